import { ErrorCode, SwitchyardError } from '../queues/core/index.js';

/**
 * The answer of a contract field whose issue is not done yet (the second wave of API.graphql): UNAVAILABLE,
 * before anything is read or changed. `coordinate` names it as a schema coordinate: `Mutation.request`,
 * `PublishInput.orderingKey`, `Subscription.messages(after:)`. test/graphql/contract.test.ts lists them all.
 */
export function notBuilt(coordinate: string): never {
  throw new SwitchyardError(ErrorCode.Unavailable, `${coordinate} is not implemented yet`);
}

/**
 * `values` without the given fields, after refusing with {@link notBuilt} the first one it sets: an input
 * that is not built yet is never silently ignored. Null counts as not set, as GraphQL treats it for an
 * optional input. `owner` is the input type (`PublishInput`) or the field with its arguments (`Subscription.messages`).
 */
export function withoutUnbuilt<T extends object, K extends keyof T & string>(
  owner: string,
  values: T,
  unbuilt: readonly K[],
): Omit<T, K> {
  const rest: Partial<T> = { ...values };
  for (const name of unbuilt) {
    if (values[name] !== undefined && values[name] !== null) {
      notBuilt(owner.includes('.') ? `${owner}(${name}:)` : `${owner}.${name}`);
    }
    delete rest[name];
  }
  return rest as Omit<T, K>;
}
