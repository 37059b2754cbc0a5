// The last label import this window applied: its Undo stays offered when the researcher leaves
// the Labels page to look at the library and comes back (the back end keeps the undo record).
import type { LabelImportReport } from '../../../../common/label-files';

export const lastLabelImport = $state<{ report: LabelImportReport | null }>({ report: null });
