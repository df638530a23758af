import { randomBytes } from 'node:crypto';

/** The payload size every scenario uses unless it says otherwise. */
export const PAYLOAD_BYTES = 1024;

/** The benchmark payload: a sequence number, the send time and filler up to {@link PAYLOAD_BYTES}. */
export interface BenchPayload {
  seq: number;
  /** Send time in µs on the machine's monotonic clock, which every process on the machine shares. */
  sentAtUs: number;
  /** Warm-up traffic: the receiver leaves it out of the latency figures. */
  warm: boolean;
  data: string;
}

/**
 * process.hrtime reads CLOCK_MONOTONIC, one clock for every process on the machine, so the receiver
 * can subtract a send time taken in the load generator.
 */
export const nowUs = () => Number(process.hrtime.bigint() / 1000n);

// Random base64, so nothing along the way gets an easy ride from a repetitive payload.
const FILLER = randomBytes(PAYLOAD_BYTES).toString('base64');
const ENVELOPE_BYTES = JSON.stringify({
  seq: 1_000_000,
  sentAtUs: 1e15,
  warm: false,
  data: '',
} satisfies BenchPayload).length;

/** A payload whose JSON is about {@link PAYLOAD_BYTES} long. */
export function makePayload(seq: number, sentAtUs = 0, warm = false): BenchPayload {
  return { seq, sentAtUs, warm, data: FILLER.slice(0, PAYLOAD_BYTES - ENVELOPE_BYTES) };
}

/** The payload inside what a webhook receiver gets: a Switchyard message wraps it, raw BullMQ does not. */
export function payloadOf(body: unknown): Partial<BenchPayload> {
  if (typeof body !== 'object' || body === null) return {};
  const inner = (body as { payload?: unknown }).payload;
  return (typeof inner === 'object' && inner !== null ? inner : body) as Partial<BenchPayload>;
}
