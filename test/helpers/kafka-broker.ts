/** A real Apache Kafka broker (one KRaft node) for a test; the benchmark starts the same one. */
export { KafkaBroker, kafkaClusterId, type KafkaVersion, type StoredBatch } from '../../bench/peers/kafka-broker';
