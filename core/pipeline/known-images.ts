// Ports that well-known service images listen on, so `services: [{name: db, image: postgres}]`
// is probed for readiness without the user writing `ready: { ports: [5432] }`.

/** Keyed by repository name without registry, tag or digest (`postgres`, `bitnami/redis`). */
const KNOWN_PORTS: Readonly<Record<string, readonly number[]>> = {
  postgres: [5432],
  postgis: [5432],
  'postgis/postgis': [5432],
  'bitnami/postgresql': [5432],
  'timescale/timescaledb': [5432],
  mysql: [3306],
  mariadb: [3306],
  percona: [3306],
  'bitnami/mysql': [3306],
  'bitnami/mariadb': [3306],
  redis: [6379],
  'redis/redis-stack-server': [6379],
  'bitnami/redis': [6379],
  'valkey/valkey': [6379],
  'eqalpha/keydb': [6379],
  mongo: [27017],
  'bitnami/mongodb': [27017],
  memcached: [11211],
  'bitnami/memcached': [11211],
  rabbitmq: [5672],
  'bitnami/rabbitmq': [5672],
  elasticsearch: [9200],
  'elasticsearch/elasticsearch': [9200],
  'opensearchproject/opensearch': [9200],
  'bitnami/elasticsearch': [9200],
  cassandra: [9042],
  'scylladb/scylla': [9042],
  couchdb: [5984],
  influxdb: [8086],
  nats: [4222],
  zookeeper: [2181],
  'minio/minio': [9000],
  'localstack/localstack': [4566],
  'mssql/server': [1433],
  'clickhouse/clickhouse-server': [8123],
  neo4j: [7687],
  etcd: [2379],
  'bitnami/etcd': [2379],
  'quay.io/coreos/etcd': [2379],
  vault: [8200],
  'hashicorp/vault': [8200],
  consul: [8500],
  'hashicorp/consul': [8500],
  'amazon/dynamodb-local': [8000],
  mailhog: [1025],
  'mailhog/mailhog': [1025],
  'axllent/mailpit': [1025],
  'selenium/standalone-chrome': [4444],
  'selenium/standalone-firefox': [4444],
  'docker.elastic.co/elasticsearch/elasticsearch': [9200],
  nginx: [80],
  httpd: [80],
  registry: [5000],
  'nats-streaming': [4222],
  'apachepulsar/pulsar': [6650],
  'confluentinc/cp-kafka': [9092],
  'bitnami/kafka': [9092],
  'apache/kafka': [9092],
  'redpandadata/redpanda': [9092],
  'cockroachdb/cockroach': [26257],
  'gvenzl/oracle-xe': [1521],
  'gvenzl/oracle-free': [1521],
  'fsouza/fake-gcs-server': [4443],
  'mcr.microsoft.com/azure-storage/azurite': [10000],
};

/** `registry.example.com:5000/library/postgres:15@sha256:…` → `postgres`. */
export function imageRepository(image: string): string {
  let name = image.trim().toLowerCase();
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) name = name.slice(0, colon);
  const parts = name.split('/');
  // A first component with a dot, a colon or `localhost` is a registry host.
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) {
    const full = parts.join('/');
    if (KNOWN_PORTS[full]) return full;
    parts.shift();
  }
  if (parts[0] === 'library' && parts.length > 1) parts.shift();
  if (parts[0] === 'docker' && parts[1] === 'library' && parts.length > 2) parts.splice(0, 2);
  return parts.join('/');
}

/** The ports a well-known image listens on, or undefined when the image is not known. */
export function knownImagePorts(image: string): number[] | undefined {
  const repository = imageRepository(image);
  const exact = KNOWN_PORTS[repository];
  if (exact) return [...exact];
  // Mirrors keep the official name as the last component (`mirror.example/ci/postgres`).
  const last = repository.slice(repository.lastIndexOf('/') + 1);
  const byLast = KNOWN_PORTS[last];
  return byLast ? [...byLast] : undefined;
}
