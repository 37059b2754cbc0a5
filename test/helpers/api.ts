import type { Backend } from '../../src/main/api/backend';
import { dispatch } from '../../src/main/api/dispatch';
import type { MethodInput, MethodName, MethodOutput } from '../../src/common/contract';
import { CleftError } from '../../src/common/errors';

/** Calls a contract method through dispatch (validation included) and unwraps the envelope. */
export async function callApi<M extends MethodName>(backend: Backend, method: M, input: MethodInput<M>): Promise<MethodOutput<M>> {
  const res = await dispatch(backend.handlers, method, input);
  if (!res.ok) throw CleftError.fromPayload(res.error);
  return res.value as MethodOutput<M>;
}
