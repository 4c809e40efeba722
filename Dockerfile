# The project's Airflow image for docker-compose.yml: the official Airflow image plus the pinned
# requirements (apache-airflow-providers-celery among them) and the project, installed editable at
# /opt/sgs (docker-compose.yml mounts the checkout there read-only, so DAG and department files stay live).
FROM apache/airflow:3.3.2-python3.11
USER root
# mysqlclient builds against the MariaDB client library; unixodbc for the ODBC connector (scripts/system-deps.sh).
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libmariadb-dev pkg-config gcc unixodbc \
    && rm -rf /var/lib/apt/lists/*
USER airflow
COPY --chown=airflow:root requirements.txt pyproject.toml /opt/sgs/
RUN pip install --no-cache-dir -r /opt/sgs/requirements.txt
COPY --chown=airflow:root . /opt/sgs
RUN pip install --no-cache-dir --no-deps -e /opt/sgs
WORKDIR /opt/sgs
