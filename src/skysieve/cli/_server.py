"""``skysieve server``: MLflow's tracking server on PostgreSQL, and the databases a team shares."""

from typing import Annotated, Optional

import typer

from skysieve._server import DEFAULT_ARTIFACTS, DEFAULT_BACKEND, DEFAULT_PORT
from skysieve.cli._common import handle_errors

__all__ = ["register"]


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the ``server`` command group (``start``, ``initdb``, ``links``) to ``app``."""
    group = typer.Typer(help="A shared MLflow tracking server (PostgreSQL backend) and its databases.",
                        no_args_is_help=True)

    @group.command("start")
    @handle_errors
    def start(
        backend_store_uri: Annotated[str, typer.Option(
            envvar="SKYSIEVE_MLFLOW_BACKEND_STORE_URI",
            help="SQLAlchemy URL of runs and registry (postgresql://user:password@host:5432/mlflow)")]
            = DEFAULT_BACKEND,
        artifacts_destination: Annotated[str, typer.Option(
            "--artifacts-destination", "--artifacts", envvar="SKYSIEVE_MLFLOW_ARTIFACTS",
            help="where artifacts go: a directory, or s3://bucket/path (served through the server; the server "
                 "reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from its environment)")]
            = DEFAULT_ARTIFACTS,
        s3_endpoint_url: Annotated[Optional[str], typer.Option(  # noqa: UP045 - typer needs Optional
            envvar="MLFLOW_S3_ENDPOINT_URL",
            help="an S3-compatible store other than AWS for s3:// artifacts (MinIO, Ceph: https://minio.example.org)")]
            = None,
        host: Annotated[str, typer.Option(help="interface to listen on; 0.0.0.0 opens it to the network")]
            = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = DEFAULT_PORT,
        workers: Annotated[int, typer.Option(min=1, help="server worker processes")] = 2,
        create_db: Annotated[bool, typer.Option(help="create the PostgreSQL database if it does not exist")] = True,
    ) -> None:
        """Run `mlflow server` in the foreground (Ctrl-C stops it); clients set MLFLOW_TRACKING_URI to its URL.

        Runs, metrics and the model registry live in the PostgreSQL database;
        artifacts in --artifacts-destination, uploaded and downloaded through
        the server, so clients need only the URL. For an s3:// destination the
        server (not the clients) needs the bucket's credentials, from its
        environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS
        profile or instance role); they are never printed or passed on the
        command line.
        """
        import os
        import socket
        import sys

        from skysieve._server import ensure_database, mlflow_server_command, mlflow_server_env, safe_url

        env = mlflow_server_env(artifacts_destination=artifacts_destination, s3_endpoint_url=s3_endpoint_url)
        if create_db and ensure_database(backend_store_uri):
            typer.echo(f"created database {safe_url(backend_store_uri)}")
        cmd = mlflow_server_command(backend_store_uri=backend_store_uri, artifacts_destination=artifacts_destination,
                                    host=host, port=port, workers=workers)
        public = socket.gethostname() if host in {"0.0.0.0", "::"} else host
        artifacts = safe_url(cmd[cmd.index("--artifacts-destination") + 1])
        if s3_endpoint_url:
            artifacts += f" at {safe_url(s3_endpoint_url)}"
        typer.echo(f"MLflow tracking server on http://{public}:{port}  (backend {safe_url(backend_store_uri)}, "
                   f"artifacts {artifacts})")
        typer.echo(f"clients: export MLFLOW_TRACKING_URI=http://{public}:{port}")
        typer.echo(f"links to each search's runs in the UI: skysieve server links --url http://{public}:{port}")
        sys.stdout.flush()
        os.execve(cmd[0], cmd, {**os.environ, **env})

    @group.command("initdb")
    @handle_errors
    def initdb(
        url: Annotated[str, typer.Argument(help="postgresql://user:password@host:5432/DBNAME")],
        mlflow: Annotated[bool, typer.Option("--mlflow", help="also create MLflow's tables in it")] = False,
    ) -> None:
        """Create a PostgreSQL database (for the MLflow server, or an Optuna storage) if it does not exist."""
        from skysieve._server import ensure_database, init_mlflow_store, safe_url

        created = ensure_database(url)
        typer.echo(f"{'created' if created else 'exists:'} {safe_url(url)}")
        if mlflow:
            init_mlflow_store(url)
            typer.echo("MLflow tables ready")

    @group.command("links")
    @handle_errors
    def links(
        url: Annotated[str, typer.Option(help="where the MLflow UI is served (`mlflow ui`, `skysieve server start`)")]
            = f"http://127.0.0.1:{DEFAULT_PORT}",
    ) -> None:
        """Print the UI link of every experiment's training runs (the tracking store of MLFLOW_TRACKING_URI).

        MLflow 3's UI opens an experiment on its GenAI pages unless the browser's switch says "Model
        training"; these links say so themselves (workflowType=machine_learning).
        """
        import mlflow

        from skysieve._tracking import configure_mlflow, ui_experiment_url

        configure_mlflow()
        experiments = mlflow.MlflowClient().search_experiments(order_by=["name ASC"])
        for exp in experiments:
            typer.echo(f"{exp.name:<12} {ui_experiment_url(url, exp.experiment_id)}")

    app.add_typer(group, name="server")
