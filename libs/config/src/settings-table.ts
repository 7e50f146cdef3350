import { envNameOf, SETTINGS } from './schema.js';

/** The configuration reference as a Markdown table, from the schema (README.md embeds it; a test keeps them equal). */
export function settingsTable(): string {
  const rows = SETTINGS.map((s) => {
    const kind = s.kind.type === 'enum' ? s.kind.choices.join(' \\| ') : s.kind.type === 'url-secret' ? 'URL (password masked)' : s.kind.type;
    const secret = s.kind.type === 'secret' || s.kind.type === 'url-secret' ? ' (secret: printed as `****`)' : '';
    return `| \`${s.key}\` | \`${envNameOf(s.key)}\` | ${kind} | ${s.default !== undefined ? `\`${s.default}\`` : '—'} | ${s.description}${secret} |`;
  });
  return ['| key (config file) | environment variable | type | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
