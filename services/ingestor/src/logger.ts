import { pino, type Logger } from "pino";

/** Structured JSON logs, one line per event. `destination` defaults to stdout (fd 1). */
export function createLogger(level: string, destination = 1): Logger {
  return pino(
    { level, base: { service: "gatewatch" } },
    pino.destination({ dest: destination, sync: false }),
  );
}
