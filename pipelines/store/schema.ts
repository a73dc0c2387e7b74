/**
 * The store's schema as an ordered list of migrations.
 *
 * `PRAGMA user_version` holds the number of migrations applied. Opening a store
 * applies the missing ones in order, each in its own transaction together with
 * the version bump, so a crash mid-migration leaves the previous version intact.
 * A database written by a newer bonsai (a version above the list) is refused.
 * Never edit a released migration: append a new one.
 */
import { createHash } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { BonsaiError } from '../../core/errors.ts';

/** One schema step. */
export interface Migration {
  /** The `user_version` after this migration (1-based, consecutive). */
  version: number;
  /** What the step adds, for logs. */
  description: string;
  /** Applies the step; runs inside a transaction. */
  up(db: Database): void;
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'samples, labels in first-seen order, duplicates',
    up(db) {
      db.exec(`
        CREATE TABLE samples (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- arrival order, never reused
          id TEXT NOT NULL UNIQUE CHECK (length(id) = 64),  -- SHA-256 hex of the file's bytes
          modality TEXT NOT NULL CHECK (modality IN ('image', 'audio')),
          split TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
          label TEXT,
          transcript TEXT,
          shape TEXT NOT NULL,                     -- JSON array
          arrived_at INTEGER NOT NULL,             -- ms since the epoch
          source TEXT NOT NULL,                    -- path relative to inbox/
          trained_version INTEGER,                 -- first model version trained on it; NULL = pending
          features BLOB NOT NULL,                  -- float32 little-endian, row-major; last so scans skip it
          CHECK (label IS NOT NULL OR transcript IS NOT NULL)
        );
        CREATE INDEX samples_stats ON samples (split, modality, label, trained_version);
        CREATE INDEX samples_pending ON samples (seq) WHERE trained_version IS NULL;
        CREATE TABLE labels (
          class_index INTEGER PRIMARY KEY,         -- 0, 1, 2, ... in first-seen order
          label TEXT NOT NULL UNIQUE,
          first_seen_at INTEGER NOT NULL
        );
        CREATE TABLE duplicates (
          seq INTEGER PRIMARY KEY,
          id TEXT NOT NULL REFERENCES samples (id),
          source TEXT NOT NULL,
          label TEXT,
          transcript TEXT,
          time INTEGER NOT NULL
        );
        CREATE INDEX duplicates_by_id ON duplicates (id);
      `);
    },
  },
  {
    version: 2,
    description: 'ingest log for the inbox commit protocol',
    up(db) {
      db.exec(`
        CREATE TABLE ingest_log (
          seq INTEGER PRIMARY KEY,
          id TEXT,                                 -- content hash; NULL when rejected unread (too large)
          source TEXT NOT NULL,                    -- path relative to inbox/
          file_key TEXT NOT NULL,                  -- inode:size:mtime of that file instance
          outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'rejected')),
          code TEXT,                               -- error code of a reject
          sidecars TEXT NOT NULL DEFAULT '[]',     -- JSON array of sidecar sources moved with it
          time INTEGER NOT NULL,
          UNIQUE (source, file_key)
        );
        CREATE INDEX ingest_log_by_id ON ingest_log (id, source);
        -- Samples stored before the log existed: their files were archived already.
        INSERT INTO ingest_log (id, source, file_key, outcome, time)
          SELECT id, source, 'unknown:' || seq, 'accepted', arrived_at FROM samples;
      `);
    },
  },
  {
    version: 3,
    description: 'relabels: a stored sample arriving again under another label',
    up(db) {
      // SQLite cannot alter a CHECK constraint: the ingest log is rebuilt with the new outcome.
      db.exec(`
        CREATE TABLE ingest_log_v3 (
          seq INTEGER PRIMARY KEY,
          id TEXT,
          source TEXT NOT NULL,
          file_key TEXT NOT NULL,
          outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'relabeled', 'rejected')),
          code TEXT,
          sidecars TEXT NOT NULL DEFAULT '[]',
          time INTEGER NOT NULL,
          UNIQUE (source, file_key)
        );
        INSERT INTO ingest_log_v3 SELECT seq, id, source, file_key, outcome, code, sidecars, time FROM ingest_log;
        DROP TABLE ingest_log;
        ALTER TABLE ingest_log_v3 RENAME TO ingest_log;
        CREATE INDEX ingest_log_by_id ON ingest_log (id, source);
        -- Every change of a stored sample's label or transcript, oldest first: nothing a user said is lost.
        CREATE TABLE relabels (
          seq INTEGER PRIMARY KEY,
          id TEXT NOT NULL REFERENCES samples (id),
          source TEXT NOT NULL,                    -- the file that carried the new target
          from_label TEXT,
          from_transcript TEXT,
          to_label TEXT,
          to_transcript TEXT,
          time INTEGER NOT NULL
        );
        CREATE INDEX relabels_by_id ON relabels (id);
      `);
    },
  },
  {
    version: 4,
    description: 'samples known by their decoded content too: a re-encoded copy is not a new sample',
    up(db) {
      db.function('bonsai_content', { deterministic: true }, (shape, features) => contentOf(String(shape), features as Buffer));
      db.exec(`
        ALTER TABLE samples ADD COLUMN content TEXT;    -- contentOf(shape, features); see contentOf
        UPDATE samples SET content = bonsai_content(shape, features);
        CREATE INDEX samples_by_content ON samples (content);
      `);
    },
  },
];

/**
 * SHA-256 hex of a sample's decoded content: its shape (as stored, JSON) and its float32
 * feature bytes. Two files whose bytes differ but decode to the same features (a PNG saved
 * again at another compression level, an image with other metadata) are one sample: the
 * model sees the same input, and a copy must not land in another split.
 */
export function contentOf(shape: string, features: Uint8Array): string {
  return createHash('sha256').update(shape).update('\0').update(features).digest('hex');
}

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The database's current `user_version`. */
export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` to the newest version. Throws `BONSAI_STORE_VERSION_TOO_NEW` for a
 * database newer than `migrations`, and `BONSAI_STORE_NEEDS_MIGRATION` when it is
 * older but `readonly` forbids migrating.
 */
export function migrate(db: Database, options: { readonly?: boolean; migrations?: readonly Migration[]; path?: string } = {}): { from: number; to: number } {
  const migrations = options.migrations ?? MIGRATIONS;
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new BonsaiError('BONSAI_STORE_BAD_MIGRATIONS', `migration ${i} has version ${m.version}, expected ${i + 1}`, { index: i, version: m.version });
  });
  const from = schemaVersion(db);
  const known = migrations.length;
  if (from > known) {
    throw new BonsaiError('BONSAI_STORE_VERSION_TOO_NEW', `store ${options.path ?? ''} has schema version ${from}, this bonsai knows up to ${known}; upgrade bonsai`, { path: options.path, version: from, known });
  }
  if (from < known && options.readonly) {
    throw new BonsaiError('BONSAI_STORE_NEEDS_MIGRATION', `store ${options.path ?? ''} has schema version ${from} < ${known} and is opened read-only; open it once for writing to migrate`, { path: options.path, version: from, known });
  }
  for (const m of migrations.slice(from)) {
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return { from, to: Math.max(from, known) };
}
