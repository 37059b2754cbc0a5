// The device a job runs on and the record of where it ran: one rule for every job kind (the form's
// Device field, else the Settings' default, else auto: src/common/device.ts chosenDevice).
import type { Settings } from '../../common/contract';
import { chosenDevice } from '../../common/device';
import { inProcessEngine } from '../../native/models/embed';
import { DeviceRecorder } from '../../native/runtime/device-recorder';
import { parseProviderChoice, type ProviderChoice } from '../../native/runtime/providers';

/** The job's `device` param, else the Settings' executionProvider, else auto. */
export function jobDevice(formDevice: string | undefined, settings: Pick<Settings, 'executionProvider'> | null): ProviderChoice {
  return parseProviderChoice(chosenDevice(formDevice, settings?.executionProvider));
}

/** Records the sessions a job's inference creates, on ORT in this worker thread. */
export function jobDeviceRecorder(): DeviceRecorder {
  return new DeviceRecorder(inProcessEngine);
}
