import { ErrorCode, SwitchyardError } from '../queues/errors.js';

/**
 * The resolver of a contract field whose issue is not done yet: the schema already has the field
 * (the contract test holds it to API.graphql), and a call answers UNAVAILABLE instead of null or a crash.
 */
export const notImplemented = (coordinate: string) => (): never => {
  throw new SwitchyardError(ErrorCode.Unavailable, `${coordinate} is not implemented yet`);
};
