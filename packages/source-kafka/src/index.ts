export { KafkaSource } from "./kafka-source.js";
export type { KafkaSourceOptions, KafkaObserver, KafkaSaslMechanism } from "./kafka-source.js";
export { classifyKafkaError } from "./errors.js";
export type { KafkaErrorKind, ClassifiedKafkaError } from "./errors.js";
export { eventHubsKafkaSettings, EVENT_HUBS_KAFKA_TUNING } from "./preset.js";
export type { EventHubsKafkaSettings, KafkaTuning } from "./preset.js";
