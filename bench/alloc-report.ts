/**
 * Where a sampled heap profile (bench/alloc-sampling.ts) says the gateway allocates: bytes per
 * message, per function and per group, grouped as the CPU profile's report groups time
 * (bench/profile-report.ts), native code and Node internals charged to the nearest caller with a group.
 */
import type { HeapProfileNode, SamplingHeapProfile } from './alloc-sampling.js';
import { type CallFrame, GROUPS, type Group, locationOf, NODE_HTTP, ownGroup } from './profile-report.js';

export interface FunctionBytes {
  name: string;
  location: string;
  chargedTo: string | null;
  group: Group;
  bytesPerMessage: number;
  share: number;
}

export interface AllocationSummary {
  messages: number;
  bytesPerMessage: number;
  top: FunctionBytes[];
  groups: { group: Group; bytesPerMessage: number; share: number }[];
}

/** The group a frame's bytes count to, and the caller that decided it when the frame has none. */
function charge(frame: CallFrame, callers: readonly CallFrame[]): { group: Group; by: CallFrame | null } {
  const own = ownGroup(frame);
  if (own !== null) return { group: own, by: null };
  let http: CallFrame | null = NODE_HTTP.test(frame.url) ? frame : null;
  for (let at = callers.length - 1; at >= 0; at--) {
    const caller = callers[at] as CallFrame;
    const group = ownGroup(caller);
    if (group !== null) return { group, by: caller };
    if (!http && NODE_HTTP.test(caller.url)) http = caller;
  }
  return http ? { group: 'HTTP + sockets', by: http === frame ? null : http } : { group: 'other', by: null };
}

/** Bytes allocated per message, over `messages` messages; the `topCount` biggest functions first. */
export function summarizeAllocations(
  profiles: readonly SamplingHeapProfile[],
  messages: number,
  topCount = 15,
): AllocationSummary {
  const byFunction = new Map<string, Omit<FunctionBytes, 'bytesPerMessage' | 'share'> & { bytes: number }>();
  const groupBytes = new Map<Group, number>();
  let total = 0;
  const walk = (node: HeapProfileNode, callers: CallFrame[]) => {
    if (node.selfSize > 0) {
      const { group, by } = charge(node.callFrame, callers);
      const chargedTo = by ? `${by.functionName || '(anonymous)'} ${locationOf(by)}` : null;
      const key = `${node.callFrame.functionName} ${locationOf(node.callFrame)} ${chargedTo ?? ''}`;
      const entry = byFunction.get(key) ?? {
        name: node.callFrame.functionName || '(anonymous)',
        location: locationOf(node.callFrame) || '(native)',
        chargedTo,
        group,
        bytes: 0,
      };
      entry.bytes += node.selfSize;
      byFunction.set(key, entry);
      groupBytes.set(group, (groupBytes.get(group) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    callers.push(node.callFrame);
    for (const child of node.children) walk(child, callers);
    callers.pop();
  };
  for (const profile of profiles) walk(profile.head, []);
  const perMessage = (bytes: number) => (messages > 0 ? bytes / messages : 0);
  const share = (bytes: number) => (total > 0 ? bytes / total : 0);
  return {
    messages,
    bytesPerMessage: perMessage(total),
    top: [...byFunction.values()]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, topCount)
      .map(({ bytes, ...entry }) => ({ ...entry, bytesPerMessage: perMessage(bytes), share: share(bytes) })),
    groups: GROUPS.map((group) => ({
      group,
      bytesPerMessage: perMessage(groupBytes.get(group) ?? 0),
      share: share(groupBytes.get(group) ?? 0),
    }))
      .filter((group) => group.bytesPerMessage > 0)
      .sort((a, b) => b.bytesPerMessage - a.bytesPerMessage),
  };
}

const kib = (bytes: number) => (bytes / 1024).toFixed(2);
const percent = (share: number) => `${(share * 100).toFixed(1)} %`;

/** Markdown: the total, the biggest allocating functions, then the groups. */
export function renderAllocations(summary: AllocationSummary): string {
  return [
    `${summary.messages} messages published; ${kib(summary.bytesPerMessage)} KiB allocated per message (sampled, freed objects included).`,
    '',
    '| # | Function | Where | Charged to (native / Node internals) | Group | KiB / message | Share |',
    '|---|---|---|---|---|---:|---:|',
    ...summary.top.map(
      (fn, n) =>
        `| ${n + 1} | \`${fn.name}\` | ${fn.location} | ${fn.chargedTo ?? ''} | ${fn.group} | ${kib(fn.bytesPerMessage)} | ${percent(fn.share)} |`,
    ),
    '',
    '| Group | KiB / message | Share |',
    '|---|---:|---:|',
    ...summary.groups.map(
      (group) => `| ${group.group} | ${kib(group.bytesPerMessage)} | ${percent(group.share)} |`,
    ),
  ].join('\n');
}
