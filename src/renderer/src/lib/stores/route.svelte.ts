// The current route, kept in step with location.hash.
import { hrefFor, parseHash, type PageId, type Route } from '../router';

export class RouteStore {
  current = $state<Route>(parseHash(''));
  /** True after the first navigation, so focus moves to a page heading only when the user navigated. */
  navigated = $state(false);

  constructor(private readonly win: Window) {
    this.current = parseHash(win.location.hash);
    if (this.current.fallback || win.location.hash === '') this.replace(this.current.page);
    win.addEventListener('hashchange', () => {
      this.current = parseHash(win.location.hash);
      this.navigated = true;
    });
  }

  go(page: PageId, ...rest: string[]): void {
    const href = hrefFor(page, ...rest);
    if (this.win.location.hash === href) {
      // Same page again: still move focus to its heading, as a link click on it would suggest.
      this.navigated = true;
      this.current = { ...parseHash(href) };
      return;
    }
    this.win.location.hash = href;
  }

  private replace(page: PageId): void {
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a one-off computation, not state
    const url = new URL(this.win.location.href);
    url.hash = hrefFor(page);
    this.win.history.replaceState(this.win.history.state, '', url.href);
  }
}
