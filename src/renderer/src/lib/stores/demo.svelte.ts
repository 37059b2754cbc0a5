// The offline demo started from the Library's first-run card. Module state so the card keeps its
// job across pages and stays on the Library after the phantoms arrive (the page leaves its empty
// state then), until the user dismisses it.
export const demoState = $state<{ jobId: number | null }>({ jobId: null });
