// The part of cornerstone-core 2.6 (untyped) that the viewer uses.
declare module 'cornerstone-core' {
  export interface LutObject {
    id: string;
    firstValueMapped: number;
    numBitsPerEntry: number;
    lut: number[];
  }

  export interface CornerstoneImage {
    imageId: string;
    minPixelValue: number;
    maxPixelValue: number;
    slope: number;
    intercept: number;
    windowCenter: number;
    windowWidth: number;
    getPixelData: () => ArrayLike<number>;
    rows: number;
    columns: number;
    height: number;
    width: number;
    color: boolean;
    rgba: boolean;
    invert: boolean;
    columnPixelSpacing: number | undefined;
    rowPixelSpacing: number | undefined;
    sizeInBytes: number;
    floatPixelData?: undefined;
  }

  export interface Viewport {
    scale: number;
    translation: { x: number; y: number };
    voi: { windowWidth: number; windowCenter: number };
    invert: boolean;
    pixelReplication: boolean;
    rotation: number;
    hflip: boolean;
    vflip: boolean;
    modalityLUT: LutObject | undefined;
    voiLUT: LutObject | undefined;
    labelmap?: boolean;
  }

  export interface ImageLoadObject {
    promise: Promise<CornerstoneImage>;
    cancelFn?: () => void;
  }
  export type ImageLoader = (imageId: string, options?: unknown) => ImageLoadObject;

  export function enable(element: HTMLElement, options?: { renderer?: string }): void;
  export function disable(element: HTMLElement): void;
  /** The element's cornerstone state; renderingTools.renderCanvas is its offscreen grayscale canvas. */
  export function getEnabledElement(element: HTMLElement): { renderingTools: { renderCanvas?: HTMLCanvasElement } };
  export function resize(element: HTMLElement, forcedFitToWindow?: boolean): void;
  export function displayImage(element: HTMLElement, image: CornerstoneImage, viewport?: Partial<Viewport>): void;
  export function getViewport(element: HTMLElement): Viewport | undefined;
  export function setViewport(element: HTMLElement, viewport: Partial<Viewport>): void;
  export function getDefaultViewportForImage(element: HTMLElement, image: CornerstoneImage): Viewport;
  export function draw(element: HTMLElement): void;
  export function updateImage(element: HTMLElement, invalidated?: boolean): void;
  export function pageToPixel(element: HTMLElement, pageX: number, pageY: number): { x: number; y: number };
  export function pixelToCanvas(element: HTMLElement, pt: { x: number; y: number }): { x: number; y: number };
  export function registerImageLoader(scheme: string, loader: ImageLoader): void;
  export function loadAndCacheImage(imageId: string, options?: unknown): Promise<CornerstoneImage>;
  export function loadImage(imageId: string, options?: unknown): Promise<CornerstoneImage>;
  export const imageCache: {
    setMaximumSizeBytes(bytes: number): void;
    purgeCache(): void;
  };
}
