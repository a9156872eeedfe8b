export { EventHubsSource } from "./eventhubs-source.js";
export type {
  EventHubsSourceOptions,
  EventHubsConnection,
  CheckpointLocation,
  EventHubsObserver,
  StartPosition,
} from "./eventhubs-source.js";
export { classifyEventHubsError } from "./errors.js";
export type { ReceiveErrorKind, ClassifiedError } from "./errors.js";
