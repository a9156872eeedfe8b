export { FileSource } from "./file-source.js";
export type { FileSourceOptions, FileSourceProgress, FileFormat } from "./file-source.js";
export { LineSplitter } from "./line-splitter.js";
export type { Line } from "./line-splitter.js";
