// Where server settings come from, in increasing precedence: embedded defaults, a JSON
// config file (--config PATH or FLOTILLA_CONFIG), FLOTILLA_* environment variables, and
// command-line flags. Each layer records the source of every value so that a bad one is
// reported as, e.g., "FLOTILLA_ELECTION_TIMEOUT_MS=abc: expected a positive integer".
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ConfigLayer, FlotillaServerConfig, SettingKey } from './server-config.js';
import {
  SETTING_KEYS,
  ServerConfigError,
  defaultsLayer,
  envName,
  flagName,
  resolveServerConfig,
} from './server-config.js';

/** Largest config file read (a config is a few hundred bytes; anything huge is a mistake). */
const CONFIG_FILE_BYTES_MAX = 1024 * 1024;

export interface ServerConfigInputs {
  /** Arguments after `flotilla server`. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Injected for tests; reads a whole file as UTF-8. */
  readonly readFile?: (path: string) => string;
}

/** Parses flags (strict: an unknown flag is an error), then assembles and validates all layers. */
export function loadServerConfig(inputs: ServerConfigInputs): FlotillaServerConfig {
  const flags = parseServerFlags(inputs.argv);
  const configPath = flags.config ?? inputs.env.FLOTILLA_CONFIG;
  const layers: ConfigLayer[] = [defaultsLayer()];
  if (configPath !== undefined) {
    const readFile = inputs.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
    layers.push(fileLayer(configPath, readFile));
  }
  layers.push(envLayer(inputs.env), flagsLayer(flags.settings));
  return resolveServerConfig(layers);
}

export function parseServerFlags(argv: readonly string[]): {
  config: string | undefined;
  help: boolean;
  settings: Partial<Record<SettingKey, string>>;
} {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const key of SETTING_KEYS) options[flagName(key).slice(2)] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ServerConfigError(err instanceof Error ? err.message : String(err));
  }
  const settings: Partial<Record<SettingKey, string>> = {};
  for (const key of SETTING_KEYS) {
    const value = values[flagName(key).slice(2)];
    if (typeof value === 'string') settings[key] = value;
  }
  return {
    config: typeof values.config === 'string' ? values.config : undefined,
    help: values.help === true,
    settings,
  };
}

export function flagsLayer(settings: Partial<Record<SettingKey, string>>): ConfigLayer {
  const layer: ConfigLayer = {};
  for (const key of SETTING_KEYS) {
    const value = settings[key];
    if (value !== undefined) layer[key] = { value, source: `${flagName(key)}=${value}` };
  }
  return layer;
}

export function envLayer(env: Readonly<Record<string, string | undefined>>): ConfigLayer {
  const layer: ConfigLayer = {};
  for (const key of SETTING_KEYS) {
    const name = envName(key);
    const value = env[name];
    // An empty variable is "not set", as shells make it easy to export one by accident.
    if (value !== undefined && value !== '') layer[key] = { value, source: `${name}=${value}` };
  }
  return layer;
}

/** A JSON object whose keys are setting names (camelCase); an unknown key is an error, not a typo to ignore. */
export function fileLayer(path: string, readFile: (path: string) => string): ConfigLayer {
  if (/\.toml$/i.test(path)) {
    throw new ServerConfigError(`${path}: TOML config files are not supported; write the settings as JSON`);
  }
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    throw new ServerConfigError(`${path}: cannot read config file: ${(err as Error).message}`);
  }
  if (text.length > CONFIG_FILE_BYTES_MAX) {
    throw new ServerConfigError(`${path}: config file is over ${CONFIG_FILE_BYTES_MAX} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ServerConfigError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ServerConfigError(`${path}: expected a JSON object of settings`);
  }
  const known = new Set<string>(SETTING_KEYS);
  const layer: ConfigLayer = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.has(key)) {
      throw new ServerConfigError(`${path}: unknown key '${key}' (known: ${SETTING_KEYS.join(', ')})`);
    }
    layer[key as SettingKey] = { value, source: `${path}: ${key}=${JSON.stringify(value)}` };
  }
  return layer;
}

/** The flags `flotilla server --help` lists, with the variable each one overrides. */
export function serverUsage(): string {
  const lines = SETTING_KEYS.map((key) => `  ${flagName(key).padEnd(28)} ${envName(key).padEnd(36)} ${key}`);
  return [
    'usage: flotilla server [--config FILE.json] [flags]',
    'Precedence: flags > FLOTILLA_* environment > config file (keys as below, camelCase) > defaults.',
    ...lines,
  ].join('\n');
}
