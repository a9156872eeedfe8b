import { describe, expect, it } from "vitest";
import { classifyEventHubsError } from "../src/index.js";

function sdkError(code: string, message: string, retryable = false): Error {
  return Object.assign(new Error(message), { code, retryable, name: "MessagingError" });
}

describe("classifyEventHubsError", () => {
  it.each([
    [
      sdkError(
        "MessagingEntityNotFoundError",
        "The messaging entity 'x/ConsumerGroups/nope' could not be found.",
      ),
      "configuration",
    ],
    [sdkError("UnauthorizedError", "Unauthorized access. 'Listen' claim(s) are required"), "configuration"],
    [
      Object.assign(new Error("This request is not authorized"), { name: "RestError", statusCode: 403 }),
      "configuration",
    ],
    [sdkError("ReceiverDisconnectedError", "New receiver with higher epoch of '1' is created"), "ownership"],
    [sdkError("ServiceUnavailableError", "The service was unable to process the request", true), "transient"],
    [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5672"), { code: "ECONNREFUSED" }), "transient"],
    [
      Object.assign(new Error("The specified blob does not exist"), { name: "RestError", statusCode: 404 }),
      "checkpoint",
    ],
    [
      new Error(
        "Error occurred while fetching the list of blobs. \nRestError: connect ECONNREFUSED 127.0.0.1:10000",
      ),
      "checkpoint",
    ],
    [new Error("something odd"), "other"],
  ])("sorts %s as %s", (err, kind) => {
    expect(classifyEventHubsError(err).kind).toBe(kind);
  });

  it("turns a configuration error into a fatal eventhubs_config error that names what failed", () => {
    const fatal = classifyEventHubsError(
      sdkError("MessagingEntityNotFoundError", "hub 'x' not found"),
    ).asFatal("reading the event hub's properties");
    expect(fatal.code).toBe("eventhubs_config");
    expect(fatal.message).toContain("reading the event hub's properties");
    expect(fatal.message).toContain("MessagingEntityNotFoundError");
  });
});
