"""Local runtime: a real single-node Kafka (KRaft) and Elasticsearch, without Docker.

Fetches the pinned releases from Maven Central with Maven (checksums verified, cached outside the
repo), picks a JDK both support, runs them as local processes and waits for their health.

    python -m deploy.local.runtime up|down|status|logs|fetch|env|jdk

Modules: `config` (versions, ports, folders), `fetch` (Maven Central + cache), `jdk` (the JDK
both support), `processes` (pids, health waits, stopping), `kafka`, `elasticsearch`, `cli`.

Everything it starts lives in one run directory (pids, logs, data), <repo>/.run by default. When
KAFKA_BOOTSTRAP_SERVERS or ELASTICSEARCH_URL point at a service that already answers, that service
is left alone. A start that fails stops what it started.

Started by root, Elasticsearch runs as the unprivileged user `cwatch`, which must be able to reach
its folder. When the repo lies in a private directory (root's home, a `mktemp -d`), Elasticsearch's
folder moves to /var/tmp/caucasus-watch-<hash of the run dir> and <run dir>/elasticsearch links
there; CWATCH_RUN_DIR still chooses the run directory explicitly.
"""
