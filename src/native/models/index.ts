/** Format / IO layer of the models: safetensors, Hugging Face folders, PEFT adapters, heads, tokenizer. */
export * from './safetensors';
export * from './hf-folder';
export * from './peft';
export * from './heads';
export * from './tokenizer';
export * from './bundle';
export * from './inspect';
export { PyFloat, pyDumps, pyLoads, pyFloatRepr, detectPyJsonFormat, type PyJson, type PyJsonFormat } from './pyjson';
