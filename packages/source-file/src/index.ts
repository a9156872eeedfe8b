export { FileSource } from "./file-source.js";
export type { FileSourceOptions, FileSourceProgress, FileFormat } from "./file-source.js";
export { LineSplitter } from "./line-splitter.js";
export type { Line } from "./line-splitter.js";
export { avroMagic, hasAvroMagic, readCaptureEvents } from "./avro-capture.js";
export type { CaptureEvent, CaptureReaderOptions } from "./avro-capture.js";
