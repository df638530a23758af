/** Command line and the size of everything, for the full run and for --quick. */

export interface BenchOptions {
  /** Every scenario once, small: the CI smoke run. */
  quick: boolean;
  /** Only these scenario numbers (`--only=3,5`); null runs all. */
  only: Set<number> | null;
  /**
   * Profile the gateway during scenario 3, or the first of --only, instead of benchmarking: its CPU
   * (`--profile`, `--profile=cpu`) or the bytes it allocates per message (`--profile=alloc`).
   */
  profile: 'cpu' | 'alloc' | null;
  /**
   * Run scenarios 1-4 (or those of --only among them) on one Redis and then on a local Redis Cluster
   * of 3 masters and 3 replicas, in one run (`--cluster`).
   */
  cluster: boolean;
  /**
   * `--instances=N`: run scenarios 1 and 3 (or those of --only among them) with one gateway and then
   * with N gateway instances on the same Redis, in one run; 1 (the default) runs one gateway only.
   */
  instances: number;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { quick: false, only: null, profile: null, cluster: false, instances: 1 };
  for (const arg of argv) {
    if (arg === '--quick') options.quick = true;
    else if (arg === '--profile' || arg === '--profile=cpu') options.profile = 'cpu';
    else if (arg === '--profile=alloc') options.profile = 'alloc';
    else if (arg === '--cluster') options.cluster = true;
    else if (arg.startsWith('--only=')) {
      const ids = arg
        .slice('--only='.length)
        .split(',')
        .map((id) => Number(id.trim()));
      if (ids.some((id) => !Number.isInteger(id) || id < 1 || id > 11)) {
        throw new Error(`--only takes scenario numbers 1 to 11, got ${arg}`);
      }
      options.only = new Set(ids);
    } else if (arg.startsWith('--instances=')) {
      options.instances = Number(arg.slice('--instances='.length));
      if (!Number.isInteger(options.instances) || options.instances < 2 || options.instances > 8) {
        throw new Error(`--instances takes a number of gateway instances from 2 to 8, got ${arg}`);
      }
    } else {
      throw new Error(
        `unknown option ${arg}; use --quick, --only=1,2, --profile[=cpu|alloc], --cluster or --instances=2`,
      );
    }
  }
  if (options.cluster && options.instances > 1)
    throw new Error('--cluster and --instances are separate runs');
  return options;
}

/** How much work each scenario does; the full run and --quick differ only here. */
export interface Sizes {
  /** A discarded run of each side before the measured rounds. */
  warmUp: boolean;
  rounds: number;
  /**
   * How long a throughput run sends (scenarios 1-4, 7): each sends for this long or until its
   * count below, whichever comes first, and is measured on what it did.
   */
  windowMs: number;
  /** Scenario 1: most messages per run (256 in flight). */
  ingestMessages: number;
  /** Scenario 2: most batches of {@link batchSize} per run. */
  ingestBatches: number;
  batchSize: number;
  /** Scenario 2: batches in flight (both sides). */
  batchesInFlight: number;
  /** Scenario 3: most messages per run. */
  endToEndMessages: number;
  /** Scenario 4: most publishes per run (each reaches ten queues). */
  fanoutPublishes: number;
  /** Scenario 5: warm-up and measured time at each offered rate. */
  latencyWarmUpMs: number;
  latencyMeasureMs: number;
  /** Scenario 6: messages waiting before the receive/ack loops start. */
  pullMessages: number;
  /** Scenario 7: most messages per run, each failing once. */
  retryMessages: number;
  /** Scenario 8: messages left waiting. */
  memoryMessages: number;
  /** Bound of filling, draining and delivering in any one run; a run that hits it fails the bench. */
  runTimeoutMs: number;
}

export const FULL_SIZES: Sizes = {
  warmUp: true,
  rounds: 3,
  windowMs: 10_000,
  ingestMessages: 100_000,
  ingestBatches: 2_000,
  batchSize: 100,
  batchesInFlight: 16,
  endToEndMessages: 50_000,
  fanoutPublishes: 10_000,
  latencyWarmUpMs: 3_000,
  latencyMeasureMs: 10_000,
  pullMessages: 20_000,
  retryMessages: 20_000,
  memoryMessages: 100_000,
  runTimeoutMs: 240_000,
};

export const QUICK_SIZES: Sizes = {
  warmUp: false,
  rounds: 1,
  windowMs: 1_500,
  ingestMessages: 2_000,
  ingestBatches: 40,
  batchSize: 100,
  batchesInFlight: 16,
  endToEndMessages: 2_000,
  fanoutPublishes: 300,
  latencyWarmUpMs: 300,
  latencyMeasureMs: 1_000,
  pullMessages: 1_000,
  retryMessages: 500,
  memoryMessages: 5_000,
  runTimeoutMs: 60_000,
};
