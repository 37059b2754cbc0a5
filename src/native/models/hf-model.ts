/**
 * A Hugging Face model folder as a model of ours: `loadHfFolder(dir)` reads config.json, lets the
 * family's model file parse it (gpt2.ts, vit.ts own their config and the list of weights their
 * forward reads) and binds the folder's weights against that list (formats/hf-folder.ts), so a
 * folder is refused, naming the file and tensor, before a graph is built from it.
 *
 * This join lives here, above formats/: the folder format knows how weights are stored, the model
 * files know what they read, and neither imports the other.
 */
import {
  bindHfWeights,
  detectModelFamily,
  readHfConfig,
  type ExpectedTensor,
  type HfFolder,
  type LoadOptions,
  type WeightSpec,
} from '../formats/hf-folder';
import { gpt2Weights, parseGpt2Config, type Gpt2Config } from './gpt2';
import { parseVisionConfig, visionWeights, type Dinov2Config, type VitConfig } from './vit';

export type ModelConfig = Gpt2Config | VitConfig | Dinov2Config;
export type HfModel = HfFolder<ModelConfig>;

/** Detects the family from `model_type` (or `architectures`) and normalises the config. */
export function parseModelConfig(raw: unknown, file = 'config.json'): ModelConfig {
  const { family, architectures } = detectModelFamily(raw, file);
  return family === 'gpt2' ? parseGpt2Config(raw, file, architectures) : parseVisionConfig(raw, file, family, architectures);
}

/** What the model of this config reads from its folder. */
export function weightSpec(config: ModelConfig): WeightSpec {
  return config.family === 'gpt2' ? gpt2Weights(config) : visionWeights(config);
}

/** Canonical (unprefixed) tensor names and shapes implied by a config. */
export function expectedTensors(config: ModelConfig): ExpectedTensor[] {
  return weightSpec(config).tensors();
}

/** Loads and validates a Hugging Face model folder (reads headers only). */
export function loadHfFolder(dir: string, options: LoadOptions = {}): HfModel {
  const folder = readHfConfig(dir);
  const config = parseModelConfig(folder.rawConfig, folder.configFile);
  return bindHfWeights(folder, config, weightSpec(config), options);
}
