/**
 * V8's sampling heap profiler in this process, counting what garbage collection has already freed
 * as well as what is still alive: the bytes a request allocates, which is what the collector's share
 * of a CPU profile pays for. `node --heap-prof` keeps only what is alive when it stops, so it would
 * miss every short-lived object; the inspector's `includeObjectsCollectedBy*GC` flags keep them.
 */
import { Session } from 'node:inspector/promises';

/** The parts of a `.heapprofile` (HeapProfiler.SamplingHeapProfile) the report reads. */
export interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapProfileNode[];
}

export interface SamplingHeapProfile {
  head: HeapProfileNode;
}

/** On average one sample every this many bytes allocated: fine enough for 1 KB messages. */
const SAMPLING_INTERVAL_BYTES = 4_096;

/** Starts sampling; `stop` answers the profile and ends the session. */
export async function startAllocationSampling(): Promise<{ stop(): Promise<SamplingHeapProfile> }> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  // V8 has taken both flags since 10.x (Node 20 ships 11.3); @types/node does not list them yet.
  const parameters = {
    samplingInterval: SAMPLING_INTERVAL_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  };
  await session.post('HeapProfiler.startSampling', parameters);
  return {
    async stop() {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      session.disconnect();
      return profile as SamplingHeapProfile;
    },
  };
}
