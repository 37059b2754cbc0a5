// cornerstone-core wired to our loader, once per page. cornerstone is a browser bundle (it touches
// window when loaded), so it is imported here only, never by the pure viewer modules.
import * as namespace from 'cornerstone-core';
import type { RendererClient } from '../client';
import type { Side } from './hanging';
import { createLoader, SCHEME } from './loader';

// A UMD bundle: bundlers hand its exports over as the namespace or as its default export.
type Cornerstone = typeof namespace;
const cornerstone: Cornerstone = (namespace as unknown as { default?: Cornerstone }).default ?? namespace;

let registered = false;

/** Chest-wall side per instance, measured once on the first frame seen (not reactive state). */
export const chestWalls = new Map<number, Side | null>();

export function setupCornerstone(client: Pick<RendererClient, 'invokeBinary'>): Cornerstone {
  if (!registered) {
    cornerstone.registerImageLoader(SCHEME, createLoader(client));
    // Reduced frames of a few studies plus a full-resolution frame or two.
    cornerstone.imageCache.setMaximumSizeBytes(768 * 1024 * 1024);
    registered = true;
  }
  return cornerstone;
}

/**
 * Enables cornerstone on a viewport element with an offscreen render canvas made for readback.
 * cornerstone reads that canvas back (getImageData) whenever the image's size changes, i.e. at every
 * progressive step (preview, J2K level, full frame); on an ordinary canvas Chromium then logs
 * "Multiple readback operations using getImageData are faster with the willReadFrequently
 * attribute set to true". A canvas keeps the attributes of its first getContext call, so the canvas
 * is made here and cornerstone's own getContext('2d') gets this context. It starts 0×0 so the first
 * image always differs in size and cornerstone sets its buffers up on it.
 */
export function enableViewport(element: HTMLElement): void {
  cornerstone.enable(element);
  const canvas = document.createElement('canvas');
  canvas.width = 0;
  canvas.height = 0;
  canvas.getContext('2d', { willReadFrequently: true });
  cornerstone.getEnabledElement(element).renderingTools.renderCanvas = canvas;
}
