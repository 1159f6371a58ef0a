package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
)

// RecordCommand durably queues cmd, de-duplicating on delivery. It returns
// false for a delivery seen before.
func (db *DB) RecordCommand(ctx context.Context, delivery string, cmd preview.Command) (bool, error) {
	queued := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		queued = false
		if delivery != "" {
			tag, err := tx.Exec(ctx, insertDelivery, delivery, db.now())
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
		}
		var seq int64
		if err := tx.QueryRow(ctx, "SELECT nextval(pg_get_serial_sequence('commands', 'seq'))").Scan(&seq); err != nil {
			return err
		}
		cmd.ID = fmt.Sprintf("%016x", seq)
		data, err := json.Marshal(cmd)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO commands (seq, data) VALUES ($1, $2)", seq, string(data)); err != nil {
			return err
		}
		queued = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("record command %s on %s#%d: %w", cmd.Verb, cmd.Repo, cmd.Number, err)
	}
	return queued, nil
}

// FindCommands returns the queued commands, oldest first.
func (db *DB) FindCommands(ctx context.Context) ([]preview.Command, error) {
	rows, err := db.pool.Query(ctx, "SELECT data FROM commands ORDER BY seq")
	if err != nil {
		return nil, err
	}
	return collect[preview.Command](rows)
}

// DeleteCommand removes a command once it has been carried out or refused.
func (db *DB) DeleteCommand(ctx context.Context, id string) error {
	var seq int64
	if _, err := fmt.Sscanf(id, "%x", &seq); err != nil {
		return preview.Errorf(preview.EINVALID, "command id %q", id)
	}
	_, err := db.pool.Exec(ctx, "DELETE FROM commands WHERE seq = $1", seq)
	return err
}
