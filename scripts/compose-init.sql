-- Airflow's metadata database beside the central store (docker-compose.yml).
CREATE DATABASE airflow;
