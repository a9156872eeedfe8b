/**
 * Piscina worker entry: runs {@link classifyBatch} and transfers the encoded rows back instead of
 * copying them.
 */
import { move, transferableSymbol, valueSymbol } from "piscina";
import { classifyBatch, type ClassifyTask } from "./classify-batch.js";

export default function run(task: ClassifyTask): unknown {
  const result = classifyBatch(task);
  const buffers = result.tables.filter((t) => t.data.byteLength > 0).map((t) => t.data.buffer);
  return move({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return result;
    },
  });
}
