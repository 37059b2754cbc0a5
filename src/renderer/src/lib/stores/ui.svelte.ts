// Shell state that outlives a page: the jobs drawer, the help dialog, and the folder the user is
// about to import (set by the Library field or by the desktop menu's Import Folder…).
export class UiStore {
  jobsOpen = $state(false);
  helpOpen = $state(false);
  libraryFolder = $state('');
}
