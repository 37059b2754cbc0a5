// The single entry for every transport: validate the method name and payload, run the handler,
// validate what it returns, and answer with an envelope. Nothing a client sends can crash the back
// end; bad input gets a typed `invalid_input` error listing each problem.
import { isMethodName, methods, type MethodName } from '../../common/contract';
import { CleftError, zodIssues, type Envelope } from '../../common/errors';
import type { Handlers } from './handlers';

export async function dispatch(handlers: Handlers, method: unknown, rawInput: unknown): Promise<Envelope<unknown>> {
  try {
    if (!isMethodName(method)) throw new CleftError('unknown_method', `unknown method ${JSON.stringify(method)}`);
    const schema = methods[method];
    const parsed = schema.input.safeParse(rawInput ?? {});
    if (!parsed.success) {
      throw new CleftError('invalid_input', `invalid input for ${method}`, zodIssues(parsed.error));
    }
    const handler = handlers[method] as (input: unknown) => unknown;
    const value = await handler(parsed.data);
    const checked = schema.output.safeParse(value);
    if (!checked.success) {
      // A handler broke the contract: report it as ours, not the caller's.
      console.error(`${method} returned a value outside the contract`, checked.error.issues);
      throw new CleftError('internal', `${method} produced an invalid response`);
    }
    return { ok: true, value: checked.data };
  } catch (err) {
    if (err instanceof CleftError) return { ok: false, error: err.toPayload() };
    console.error(`${String(method)} failed:`, err);
    return { ok: false, error: { code: 'internal', message: err instanceof Error ? err.message : String(err) } };
  }
}

export type { MethodName };
