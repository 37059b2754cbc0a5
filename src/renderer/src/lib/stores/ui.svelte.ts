// Shell state that outlives a page: the jobs drawer, the help dialog, and the folder the user is
// about to import (set by the Library field or by the desktop menu's Import Folder…).
export class UiStore {
  jobsOpen = $state(false);
  helpOpen = $state(false);
  libraryFolder = $state('');
  /** Whether a job was started from this window since it loaded. */
  private startedOne = false;

  /**
   * A job the user started from this window: the first one of the session opens the drawer, so a
   * new user sees where long work goes; later ones only count in the sidebar's Jobs badge, so the
   * drawer never pops over the page again once the user knows where it is (or closed it).
   */
  jobStarted(): void {
    if (!this.startedOne) this.jobsOpen = true;
    this.startedOne = true;
  }
}
