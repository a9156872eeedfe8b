// The Event Hubs emulator (AMQP 1.0 on rhea) and Azurite, exercised through the real @azure/event-hubs client and
// @azure/eventhubs-checkpointstore-blob.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  latestEventPosition,
  type EventData,
  type EventPosition,
  type ReceivedEventData,
  type SubscribeOptions,
  type Subscription,
} from "@azure/event-hubs";
import { BlobCheckpointStore } from "@azure/eventhubs-checkpointstore-blob";
import { ContainerClient } from "@azure/storage-blob";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "./helpers/wait.js";
// The SDK's own copy of the service's partition-key hash (used by its buffered producer), to check ours against.
import { mapPartitionKeyToId } from "../node_modules/@azure/event-hubs/dist/esm/impl/partitionKeyToIdMapper.js";
import {
  startAzurite,
  startEventHubsEmulator,
  type AzuriteFixture,
  type EventHubsEmulatorFixture,
  type EventHubsEmulatorOptions,
} from "./fixtures/eventhubs-emulator/index.js";

// The SDK's default retry delay is 30 s (fixed); tests use short delays so a retry is visible but quick.
const retryOptions = { retryDelayInMs: 200, maxRetries: 5, timeoutInMs: 10_000 };

/** `p`, or a rejection naming `what` once `ms` have passed. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const closeSub = (c: Collector): Promise<void> =>
  within(10_000, "subscription.close()", c.subscription.close());

interface Collector {
  events: ReceivedEventData[];
  errors: (Error & { code?: string })[];
  closed: string[];
  owned: Set<string>;
  subscription: Subscription;
}

function collect(
  client: EventHubConsumerClient,
  partitionId: string | undefined,
  options: SubscribeOptions,
  onEvents?: (events: ReceivedEventData[], partitionId: string) => Promise<void>,
): Collector {
  const c = { events: [], errors: [], closed: [], owned: new Set() } as unknown as Collector;
  const handlers = {
    processInitialize: async (ctx: { partitionId: string }) => {
      c.owned.add(ctx.partitionId);
      await Promise.resolve();
    },
    processClose: async (reason: string, ctx: { partitionId: string }) => {
      c.owned.delete(ctx.partitionId);
      c.closed.push(`${ctx.partitionId}:${reason}`);
      await Promise.resolve();
    },
    processEvents: async (events: ReceivedEventData[], ctx: { partitionId: string }) => {
      c.events.push(...events);
      await onEvents?.(events, ctx.partitionId);
    },
    processError: async (err: Error) => {
      c.errors.push(err);
      await Promise.resolve();
    },
  };
  const opts = { maxWaitTimeInSeconds: 1, skipParsingBodyAsJson: true, ...options };
  c.subscription =
    partitionId === undefined
      ? client.subscribe(handlers, opts)
      : client.subscribe(partitionId, handlers, opts);
  return c;
}

const bodyOf = (e: ReceivedEventData): Buffer => Buffer.from(e.body as Uint8Array);
/** Bytes, not a string: the SDK sends a string body as JSON text (`"abc"` with the quotes). */
const bytes = (text: string): Buffer => Buffer.from(text);
const seqs = (events: ReceivedEventData[]): number[] => events.map((e) => e.sequenceNumber);
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe("Event Hubs emulator with the real @azure/event-hubs client", () => {
  let fx: EventHubsEmulatorFixture;
  const cleanups: (() => Promise<unknown>)[] = [];
  const later = <T extends { close(): Promise<unknown> }>(x: T): T => {
    cleanups.push(() => x.close());
    return x;
  };
  const start = async (opts: EventHubsEmulatorOptions = {}): Promise<EventHubsEmulatorFixture> => {
    fx = await startEventHubsEmulator({ hub: "gw-logs", partitions: 4, ...opts });
    cleanups.push(() => fx.stop());
    return fx;
  };
  const producer = (): EventHubProducerClient =>
    later(new EventHubProducerClient(fx.connectionString, { retryOptions }));
  const consumer = (group = "$Default"): EventHubConsumerClient =>
    later(
      new EventHubConsumerClient(group, fx.connectionString, {
        retryOptions,
        // How often a subscription restarts a stopped partition pump (default 10 s).
        loadBalancingOptions: { updateIntervalInMs: 500 },
      }),
    );
  const sendBatch = async (
    p: EventHubProducerClient,
    events: EventData[],
    where: { partitionId?: string; partitionKey?: string },
  ): Promise<void> => {
    const batch = await p.createBatch(where);
    for (const e of events) expect(batch.tryAdd(e)).toBe(true);
    await p.sendBatch(batch);
  };
  const receiverAttached = (partition: string, n = 1): Promise<unknown> =>
    waitFor(`${n} receiver(s) on partition ${partition}`, async () => {
      const { receivers } = await fx.stats();
      return receivers.filter((r) => r.partition === partition).length >= n;
    });

  afterEach(async () => {
    // Subscriptions and clients first (newest first), then the emulator.
    for (const fn of cleanups.splice(0).reverse())
      await within(15_000, "cleanup", fn()).catch(() => undefined);
  });

  it("answers getEventHubProperties, getPartitionIds and getPartitionProperties", async () => {
    await start({ partitions: 3 });
    const p = producer();
    const props = await p.getEventHubProperties();
    expect(props.name).toBe("gw-logs");
    expect(props.partitionIds).toEqual(["0", "1", "2"]);
    expect(props.createdOn).toBeInstanceOf(Date);
    expect(props.createdOn.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(await p.getPartitionIds()).toEqual(["0", "1", "2"]);

    const empty = await p.getPartitionProperties("1");
    expect(empty).toMatchObject({
      eventHubName: "gw-logs",
      partitionId: "1",
      isEmpty: true,
      beginningSequenceNumber: 0,
      lastEnqueuedSequenceNumber: -1,
      lastEnqueuedOffset: "-1",
    });

    const before = Date.now();
    await sendBatch(p, [{ body: "a" }, { body: "b" }, { body: "c" }], { partitionId: "1" });
    const after = await p.getPartitionProperties("1");
    expect(after).toMatchObject({
      isEmpty: false,
      beginningSequenceNumber: 0,
      lastEnqueuedSequenceNumber: 2,
    });
    expect(after.lastEnqueuedOnUtc.getTime()).toBeGreaterThanOrEqual(before);
    expect(Number(after.lastEnqueuedOffset)).toBeGreaterThan(0);
    expect((await fx.stats()).partitions["1"]).toEqual({
      count: 3,
      lastSequenceNumber: 2,
      lastOffset: after.lastEnqueuedOffset,
    });

    await expect(p.getPartitionProperties("7")).rejects.toMatchObject({ code: "ArgumentOutOfRangeError" });
  });

  it("stores batches sent to a partition and replays them from earliest, byte for byte and in order", async () => {
    await start();
    const p = producer();
    const bodies = Array.from({ length: 25 }, (_, i) =>
      Buffer.concat([Buffer.from([0, 255, i]), randomBytes(i * 7)]),
    );
    const before = Date.now();
    await sendBatch(
      p,
      bodies.slice(0, 10).map((body, i) => ({ body, properties: { i, kind: "first" } })),
      { partitionId: "2" },
    );
    await sendBatch(
      p,
      bodies.slice(10).map((body, i) => ({ body, properties: { i: i + 10 } })),
      {
        partitionId: "2",
      },
    );
    // A JSON body goes out as a data section holding its JSON text.
    await sendBatch(p, [{ body: { hello: "world" }, contentType: "application/json" }], { partitionId: "2" });
    const sentAt = Date.now();

    const c = collect(consumer(), "2", { startPosition: earliestEventPosition, maxBatchSize: 7 });
    later(c.subscription);
    await waitFor("26 events", () => c.events.length >= 26);
    await sleep(300);
    expect(c.events).toHaveLength(26);
    expect(c.errors).toEqual([]);
    expect(seqs(c.events)).toEqual(range(0, 26));
    for (let i = 0; i < 25; i++) {
      expect(bodyOf(c.events[i]!).equals(bodies[i]!)).toBe(true);
      expect(c.events[i]!.properties).toMatchObject({ i });
    }
    expect(c.events[0]!.properties).toEqual({ i: 0, kind: "first" });
    expect(bodyOf(c.events[25]!).toString()).toBe('{"hello":"world"}');
    expect(c.events[25]!.contentType).toBe("application/json");
    // Offsets are strings, strictly increasing; enqueued times are non-decreasing and within the send window.
    const offsets = c.events.map((e) => Number(e.offset));
    expect(offsets[0]).toBe(0);
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]!).toBeGreaterThan(offsets[i - 1]!);
    for (const e of c.events) {
      expect(typeof e.offset).toBe("string");
      expect(e.enqueuedTimeUtc.getTime()).toBeGreaterThanOrEqual(before);
      expect(e.enqueuedTimeUtc.getTime()).toBeLessThanOrEqual(sentAt);
      expect(e.partitionKey).toBeUndefined();
    }
    const stats = await fx.stats();
    expect(stats.partitions["2"]!.count).toBe(26);
    expect(stats.partitions["0"]!.count).toBe(0);
  });

  it("routes by partition key with the service's hash, and round-robins batches without one", async () => {
    await start();
    const p = producer();
    const keys = [
      "alpha",
      "beta",
      "gamma",
      "delta",
      "",
      "k",
      "0123456789ab",
      "0123456789abc",
      "ünïcødé-key",
      "x".repeat(40),
    ];
    for (const key of keys) {
      await sendBatch(p, [{ body: bytes(`${key}#1`) }, { body: bytes(`${key}#2`) }], { partitionKey: key });
    }
    const c = collect(consumer(), undefined, { startPosition: earliestEventPosition });
    later(c.subscription);
    await waitFor("20 keyed events", () => c.events.length >= 20);
    for (const e of c.events) expect(e.partitionKey).toBe(bodyOf(e).toString().split("#")[0]);
    await closeSub(c);
    // Each key landed where the service would put it (the SDK's copy of the hash), both events of a key together.
    for (const pid of fx.partitionIds) {
      const pc = collect(consumer(), pid, { startPosition: earliestEventPosition });
      later(pc.subscription);
      const expected = keys.filter((k) => String(mapPartitionKeyToId(k, 4)) === pid).length * 2;
      expect((await fx.stats()).partitions[pid]!.count).toBe(expected);
      await waitFor(`partition ${pid} replay`, () => pc.events.length >= expected);
      await sleep(100);
      expect(pc.events).toHaveLength(expected);
      for (const e of pc.events) expect(String(mapPartitionKeyToId(e.partitionKey!, 4))).toBe(pid);
      await closeSub(pc);
    }

    // No key, no partition: each batch goes to one partition, the next batch to the next one.
    const counts = async (): Promise<number[]> =>
      Object.values((await fx.stats()).partitions).map((x) => x.count);
    const base = await counts();
    for (let i = 0; i < 4; i++) await sendBatch(p, [{ body: bytes("rr1") }, { body: bytes("rr2") }], {});
    const grown = (await counts()).map((n, i) => n - base[i]!);
    expect(grown.sort()).toEqual([2, 2, 2, 2]);
  });

  it("starts at latest and tails events published after subscribing", async () => {
    await start();
    const p = producer();
    await sendBatch(p, [{ body: bytes("old-1") }, { body: bytes("old-2") }], { partitionId: "0" });
    const c = collect(consumer(), "0", { startPosition: latestEventPosition });
    later(c.subscription);
    await receiverAttached("0");
    await sleep(200);
    expect(c.events).toEqual([]);
    for (let i = 0; i < 3; i++) {
      await sendBatch(p, [{ body: bytes(`new-${i}`) }], { partitionId: "0" });
      await waitFor(`live event ${i}`, () => c.events.length === i + 1);
    }
    await fx.publish("0", [Buffer.from("injected")]);
    await waitFor("injected event", () => c.events.length === 4);
    expect(c.events.map((e) => bodyOf(e).toString())).toEqual(["new-0", "new-1", "new-2", "injected"]);
    expect(seqs(c.events)).toEqual([2, 3, 4, 5]);
  });

  it("starts by sequence number, by offset and by enqueued time", async () => {
    await start();
    const p = producer();
    await sendBatch(
      p,
      range(0, 5).map((i) => ({ body: bytes(`a${i}`) })),
      { partitionId: "3" },
    );
    await sleep(30);
    const cut = new Date();
    await sleep(30);
    await sendBatch(
      p,
      range(5, 10).map((i) => ({ body: bytes(`b${i}`) })),
      { partitionId: "3" },
    );
    const all = collect(consumer(), "3", { startPosition: earliestEventPosition });
    later(all.subscription);
    await waitFor("10 events", () => all.events.length >= 10);
    const ev = all.events;

    const readFrom = async (startPosition: EventPosition): Promise<number[]> => {
      const c = collect(consumer(), "3", { startPosition });
      later(c.subscription);
      await receiverAttached("3", 2);
      await sleep(400);
      await closeSub(c);
      expect(c.errors).toEqual([]);
      return seqs(c.events);
    };
    expect(await readFrom({ sequenceNumber: 4 })).toEqual(range(5, 10));
    expect(await readFrom({ sequenceNumber: 4, isInclusive: true })).toEqual(range(4, 10));
    expect(await readFrom({ sequenceNumber: 9 })).toEqual([]);
    expect(await readFrom({ offset: ev[2]!.offset })).toEqual(range(3, 10));
    expect(await readFrom({ offset: ev[2]!.offset, isInclusive: true })).toEqual(range(2, 10));
    expect(await readFrom({ enqueuedOn: cut })).toEqual(range(5, 10));
    // Strictly after: events enqueued in the same millisecond as the cut are not included.
    expect(await readFrom({ enqueuedOn: ev[4]!.enqueuedTimeUtc })).toEqual(range(5, 10));
    expect(await readFrom({ enqueuedOn: ev[9]!.enqueuedTimeUtc.getTime() })).toEqual([]);
    expect(await readFrom({ offset: "-1" })).toEqual(range(0, 10));
  });

  it("reads all partitions with one subscription, in order within each partition", async () => {
    await start();
    const p = producer();
    for (const pid of fx.partitionIds) {
      await sendBatch(
        p,
        range(0, 6).map((i) => ({ body: bytes(`${pid}:${i}`) })),
        { partitionId: pid },
      );
    }
    const c = collect(consumer(), undefined, { startPosition: earliestEventPosition });
    later(c.subscription);
    await waitFor("24 events", () => c.events.length >= 24);
    await sleep(300);
    expect(c.events).toHaveLength(24);
    for (const pid of fx.partitionIds) {
      const mine = c.events.filter((e) => bodyOf(e).toString().startsWith(`${pid}:`));
      expect(mine.map((e) => bodyOf(e).toString())).toEqual(range(0, 6).map((i) => `${pid}:${i}`));
      expect(seqs(mine)).toEqual(range(0, 6));
    }
  });

  it("keeps a subscription going across dropped links, without loss or duplicates", async ({ annotate }) => {
    await start();
    const p = producer();
    const c = collect(consumer(), "1", { startPosition: earliestEventPosition, maxBatchSize: 10 });
    later(c.subscription);
    await receiverAttached("1");
    const reattachMs: number[] = [];
    let sent = 0;
    for (let round = 0; round < 3; round++) {
      for (let b = 0; b < 5; b++) {
        await sendBatch(
          p,
          range(sent, sent + 20).map((i) => ({ body: bytes(`e${i}`) })),
          { partitionId: "1" },
        );
        sent += 20;
      }
      // Mid-stream: some of these are delivered, some are still in flight or not yet sent (credit).
      await waitFor("some events", () => c.events.length > round * 100 + 5);
      const t0 = Date.now();
      expect(await fx.dropLinks()).toBe(1);
      // The SDK re-attaches under the same link name; the emulator forgot the old link at the drop.
      await receiverAttached("1");
      reattachMs.push(Date.now() - t0);
    }
    await waitFor(`${sent} events`, () => c.events.length >= sent, 20_000);
    await sleep(300);
    expect(seqs(c.events)).toEqual(range(0, sent));
    expect(c.events.map((e) => bodyOf(e).toString())).toEqual(range(0, sent).map((i) => `e${i}`));
    // The drop surfaces as a retryable error at most; the subscription itself never stops.
    for (const err of c.errors) expect(err.code).toBe("ServiceUnavailableError");
    expect(c.closed).toEqual([]);
    // The SDK waits retryDelayInMs before re-attaching (the default, 30 s, would stall a partition that long).
    for (const ms of reattachMs) expect(ms).toBeLessThan(3000);
    await annotate(`re-attach after a dropped link (retryDelayInMs 200): ${reattachMs.join(", ")} ms`);
  });

  it("keeps a subscription going across dropped connections", async ({ annotate }) => {
    await start();
    const p = producer();
    const c = collect(consumer(), "2", { startPosition: earliestEventPosition, maxBatchSize: 10 });
    later(c.subscription);
    await sendBatch(
      p,
      range(0, 50).map((i) => ({ body: bytes(`c${i}`) })),
      { partitionId: "2" },
    );
    await waitFor("first events", () => c.events.length > 5);
    const t0 = Date.now();
    expect(await fx.dropConnections()).toBeGreaterThanOrEqual(2);
    await receiverAttached("2");
    const reconnectMs = Date.now() - t0;
    // The producer reconnects too.
    await sendBatch(
      p,
      range(50, 100).map((i) => ({ body: bytes(`c${i}`) })),
      { partitionId: "2" },
    );
    await waitFor("100 events", () => c.events.length >= 100, 20_000);
    await sleep(300);
    expect(seqs(c.events)).toEqual(range(0, 100));
    await annotate(`receiver back after a dropped connection: ${reconnectMs} ms`);
  });

  it("closes subscriptions cleanly while deliveries are in flight", async () => {
    // The SDK settles in-flight deliveries after it has ended their session; a server that treats those late
    // frames as protocol errors drops the connection and the SDK's close() never returns.
    await start();
    let publishing = true;
    const traffic = (async () => {
      while (publishing) {
        for (const pid of fx.partitionIds) await fx.publish(pid, [bytes("x"), bytes("y")]);
        await sleep(5);
      }
    })();
    try {
      for (let i = 0; i < 8; i++) {
        const client = consumer();
        const c = collect(client, undefined, { startPosition: earliestEventPosition, maxBatchSize: 3 });
        await waitFor("events flowing", () => c.events.length > 20);
        await within(5000, "subscription.close()", c.subscription.close());
        await within(5000, "client.close()", client.close());
      }
    } finally {
      publishing = false;
      await traffic;
    }
    expect(fx.stderr()).not.toMatch(/ProtocolError|error on read/);
  });

  it("reports an unknown consumer group as MessagingEntityNotFoundError", async () => {
    await start({ consumerGroups: ["$Default", "gw"] });
    const c = collect(consumer("nope"), "0", { startPosition: earliestEventPosition });
    later(c.subscription);
    const err = await waitFor("an error", () => c.errors[0]);
    expect(err.code).toBe("MessagingEntityNotFoundError");
    expect(err.message).toContain("could not be found");
    expect((await fx.stats()).receivers).toEqual([]);

    // A configured group works, case-insensitively ("$default" is the SDK's own spelling).
    await fx.publish("0", [Buffer.from("x")]);
    for (const group of ["GW", "$default"]) {
      const ok = collect(consumer(group), "0", { startPosition: earliestEventPosition });
      later(ok.subscription);
      await waitFor(`event via ${group}`, () => ok.events.length === 1);
      expect(ok.errors).toEqual([]);
    }
  });

  it("refuses attaches on request: the SDK retries retryable conditions and surfaces the others", async () => {
    await start();
    const p = producer();
    await fx.failNextAttach("com.microsoft:server-busy", 1);
    await sendBatch(p, [{ body: bytes("after-busy") }], { partitionId: "0" });
    expect((await fx.stats()).failedAttaches).toBe(1);
    expect((await fx.stats()).partitions["0"]!.count).toBe(1);

    // Retryable on a consumer attach: retried inside the receive call, the subscription sees nothing of it.
    await fx.failNextAttach(
      "amqp:unauthorized-access",
      1,
      "Unauthorized access. 'Listen' claim(s) are required.",
    );
    const c = collect(consumer(), "0", { startPosition: earliestEventPosition });
    later(c.subscription);
    await waitFor("event after the retried refusal", () => c.events.length === 1);
    expect(c.errors).toEqual([]);
    await closeSub(c);

    // Not retryable: processError gets it, and the subscription's next loop (updateIntervalInMs) attaches again.
    await fx.failNextAttach("amqp:resource-limit-exceeded", 1);
    const d = collect(consumer(), "0", { startPosition: earliestEventPosition });
    later(d.subscription);
    const err = await waitFor("an error", () => d.errors[0]);
    expect(err.code).toBe("QuotaExceededError");
    expect(err.message).toContain("Injected by the emulator");
    await waitFor("event after the refusal", () => d.events.length === 1);
    expect((await fx.stats()).failedAttaches).toBe(3);
  });

  it("lets a higher epoch (ownerLevel) take a partition and refuses a lower one", async () => {
    await start();
    await fx.publish("0", [Buffer.from("one"), Buffer.from("two")]);
    const a = collect(consumer(), "0", { startPosition: earliestEventPosition, ownerLevel: 1 });
    later(a.subscription);
    await waitFor("A reads", () => a.events.length === 2);
    expect((await fx.stats()).receivers).toMatchObject([{ partition: "0", epoch: 1 }]);

    const b = collect(consumer(), "0", { startPosition: earliestEventPosition, ownerLevel: 2 });
    later(b.subscription);
    await waitFor("B reads", () => b.events.length === 2);
    const stolen = await waitFor("A loses the partition", () => a.errors[0]);
    expect(stolen.code).toBe("ReceiverDisconnectedError");
    expect(stolen.message).toMatch(/higher epoch of '2'/);
    await waitFor("A closed with OwnershipLost", () => a.closed.includes("0:OwnershipLost"));
    await closeSub(a);

    const low = collect(consumer(), "0", { startPosition: earliestEventPosition, ownerLevel: 1 });
    later(low.subscription);
    const refused = await waitFor("the lower epoch is refused", () => low.errors[0]);
    expect(refused.code).toBe("ReceiverDisconnectedError");
    await closeSub(low);
    const plain = collect(consumer(), "0", { startPosition: earliestEventPosition });
    later(plain.subscription);
    expect((await waitFor("a non-epoch receiver is refused too", () => plain.errors[0])).code).toBe(
      "ReceiverDisconnectedError",
    );
    await closeSub(plain);

    await fx.publish("0", [Buffer.from("three")]);
    await waitFor("B still reads", () => b.events.length === 3);
    const { receivers } = await fx.stats();
    expect(receivers).toMatchObject([{ partition: "0", epoch: 2 }]);
  });

  it("allows five non-epoch receivers per consumer group and partition", async () => {
    await start();
    const subs = range(0, 5).map(() => collect(consumer(), "3", { startPosition: earliestEventPosition }));
    for (const s of subs) later(s.subscription);
    await receiverAttached("3", 5);
    const sixth = collect(consumer(), "3", { startPosition: earliestEventPosition });
    later(sixth.subscription);
    expect((await waitFor("the sixth is refused", () => sixth.errors[0])).code).toBe("QuotaExceededError");
  });

  it("reports trackLastEnqueuedEventProperties", async () => {
    await start();
    await fx.publish("1", [Buffer.from("a"), Buffer.from("b"), Buffer.from("c")]);
    let last: { sequenceNumber?: number; offset?: string } = {};
    const client = consumer();
    const sub = client.subscribe(
      "1",
      {
        processEvents: async (_events, ctx) => {
          last = { ...ctx.lastEnqueuedEventProperties };
          await Promise.resolve();
        },
        processError: async () => Promise.resolve(),
      },
      { startPosition: earliestEventPosition, trackLastEnqueuedEventProperties: true, maxBatchSize: 1 },
    );
    later(sub);
    await waitFor("last enqueued properties", () => last.sequenceNumber === 2);
    const props = await producer().getPartitionProperties("1");
    expect(last.offset).toBe(props.lastEnqueuedOffset);
  });
});

describe("Azurite blob service and BlobCheckpointStore", () => {
  let azurite: AzuriteFixture | undefined;
  let fx: EventHubsEmulatorFixture | undefined;
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse())
      await within(15_000, "cleanup", fn()).catch(() => undefined);
    await fx?.stop();
    await azurite?.stop();
    fx = undefined;
    azurite = undefined;
  });

  it("creates a container and writes and reads a blob", async () => {
    azurite = await startAzurite();
    expect(azurite.connectionString).toContain(
      `BlobEndpoint=http://127.0.0.1:${azurite.blobPort}/devstoreaccount1;`,
    );
    const container = new ContainerClient(azurite.connectionString, "smoke");
    await container.create();
    const blob = container.getBlockBlobClient("dir/hello.txt");
    await blob.upload("hello azurite", 13, { metadata: { k: "v" } });
    expect((await blob.downloadToBuffer()).toString()).toBe("hello azurite");
    expect((await blob.getProperties()).metadata).toEqual({ k: "v" });
    const names: string[] = [];
    for await (const b of container.listBlobsFlat()) names.push(b.name);
    expect(names).toEqual(["dir/hello.txt"]);
  });

  it("balances 4 partitions between two consumers and hands all to the survivor", async ({ annotate }) => {
    [azurite, fx] = await Promise.all([
      startAzurite(),
      startEventHubsEmulator({ hub: "gw-lb", partitions: 4 }),
    ]);
    const container = new ContainerClient(azurite.connectionString, "checkpoints");
    await container.create();
    const store = new BlobCheckpointStore(container);
    const loadBalancingOptions = {
      strategy: "balanced" as const,
      updateIntervalInMs: 500,
      partitionOwnershipExpirationIntervalInMs: 3000,
    };
    const makeConsumer = (): EventHubConsumerClient => {
      const client = new EventHubConsumerClient("$Default", fx!.connectionString, store, {
        retryOptions,
        loadBalancingOptions,
      });
      cleanups.push(() => client.close());
      return client;
    };
    const producer = new EventHubProducerClient(fx.connectionString, { retryOptions });
    cleanups.push(() => producer.close());
    let n = 0;
    const publishRound = async (): Promise<void> => {
      for (const partitionId of ["0", "1", "2", "3"]) {
        const batch = await producer.createBatch({ partitionId });
        for (let i = 0; i < 5; i++) batch.tryAdd({ body: bytes(`lb${n++}`) });
        await producer.sendBatch(batch);
      }
    };
    await publishRound();

    const checkpoint = async (events: ReceivedEventData[], pid: string): Promise<void> => {
      const lastEvent = events.at(-1);
      if (!lastEvent) return;
      await store.updateCheckpoint({
        fullyQualifiedNamespace: "127.0.0.1",
        eventHubName: "gw-lb",
        consumerGroup: "$default",
        partitionId: pid,
        sequenceNumber: lastEvent.sequenceNumber,
        offset: lastEvent.offset,
      });
    };
    const a = collect(makeConsumer(), undefined, { startPosition: earliestEventPosition }, checkpoint);
    cleanups.push(() => a.subscription.close());
    await waitFor("A owns all 4", () => a.owned.size === 4, 15_000);
    const tB = Date.now();
    const b = collect(makeConsumer(), undefined, { startPosition: earliestEventPosition }, checkpoint);
    cleanups.push(() => b.subscription.close());
    await waitFor("2 and 2", () => a.owned.size === 2 && b.owned.size === 2, 20_000);
    const balanceMs = Date.now() - tB;
    expect(a.closed.filter((r) => r.endsWith(":OwnershipLost"))).toHaveLength(2);
    const { receivers } = await fx.stats();
    expect(receivers).toHaveLength(4);
    expect(receivers.every((r) => r.epoch === 0)).toBe(true);

    await publishRound();
    const tStop = Date.now();
    await closeSub(a);
    await waitFor("B owns all 4", () => b.owned.size === 4, 3000 + 5000);
    const takeoverMs = Date.now() - tStop;
    await publishRound();
    // At-least-once: every event reached one of the two consumers (a handover may repeat a few).
    const bodies = new Set([...a.events, ...b.events].map((e) => bodyOf(e).toString()));
    await waitFor("all events", () => {
      for (const e of b.events) bodies.add(bodyOf(e).toString());
      return bodies.size === n;
    });
    await annotate(`balanced 2/2 after ${balanceMs} ms; survivor owned all 4 ${takeoverMs} ms after close()`);
  });
});

describe("Event Hubs emulator over TLS", () => {
  it("serves AMQPS with a self-signed certificate (openssl must be installed)", async () => {
    // Not skipped when openssl is missing: this fails, saying so.
    expect(
      () => execFileSync("openssl", ["version"], { stdio: "pipe" }),
      "openssl is required",
    ).not.toThrow();
    const dir = mkdtempSync(path.join(os.tmpdir(), "gatewatch-eh-tls-"));
    try {
      const [cert, key] = [path.join(dir, "cert.pem"), path.join(dir, "key.pem")];
      execFileSync(
        "openssl",
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1"].concat([
          "-subj",
          "/CN=127.0.0.1",
          "-addext",
          "subjectAltName=IP:127.0.0.1",
        ]),
        { stdio: "pipe" },
      );
      const fx = await startEventHubsEmulator({ hub: "gw-tls", partitions: 2, tls: { cert, key } });
      try {
        expect(fx.connectionString).not.toContain("UseDevelopmentEmulator");
        // The SDK has no option for a custom CA, so the client runs in a child process that trusts the cert
        // through NODE_EXTRA_CA_CERTS: real TLS verification, hostname (IP SAN) included.
        const script = path.join(dir, "client.mjs");
        const sdk = new URL("../node_modules/@azure/event-hubs/dist/esm/index.js", import.meta.url).href;
        writeFileSync(
          script,
          `import { EventHubProducerClient } from ${JSON.stringify(sdk)};
           const p = new EventHubProducerClient(process.argv[2], { retryOptions: { maxRetries: 0, timeoutInMs: 10000 } });
           const props = await p.getEventHubProperties();
           const batch = await p.createBatch({ partitionId: "1" });
           batch.tryAdd({ body: "over tls" });
           await p.sendBatch(batch);
           await p.close();
           console.log(JSON.stringify(props.partitionIds));`,
        );
        const run = (env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> =>
          new Promise((resolve) => {
            const child = spawn(process.execPath, [script, fx.connectionString], { env, stdio: "pipe" });
            let out = "";
            child.stdout.on("data", (d: Buffer) => (out += d.toString()));
            child.stderr.on("data", (d: Buffer) => (out += d.toString()));
            const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
            child.on("exit", (code) => {
              clearTimeout(timer);
              resolve({ code, out });
            });
          });
        const trusted = await run({ ...process.env, NODE_EXTRA_CA_CERTS: cert, NODE_NO_WARNINGS: "1" });
        expect(trusted.out.trim().split("\n").at(-1)).toBe('["0","1"]');
        expect(trusted.code).toBe(0);
        expect((await fx.stats()).partitions["1"]!.count).toBe(1);
        // Without the CA the handshake fails: it really is TLS with verification.
        const untrusted = await run({ ...process.env, NODE_EXTRA_CA_CERTS: "", NODE_NO_WARNINGS: "1" });
        expect(untrusted.code).not.toBe(0);
        expect(untrusted.out).toMatch(/self[- ]signed|certificate/i);
      } finally {
        await fx.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
