"""The Docker-free local Kafka and Elasticsearch (`python -m deploy.local.runtime`)."""
