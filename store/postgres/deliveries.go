package postgres

import (
	"context"
	"time"
)

// insertDelivery records a delivery's ID and when it came, doing nothing
// (no row affected) when it was recorded before.
const insertDelivery = "INSERT INTO deliveries (id, received_at) VALUES ($1, $2) ON CONFLICT DO NOTHING"

// PruneDeliveries forgets delivery IDs recorded before cutoff and returns
// how many it removed.
func (db *DB) PruneDeliveries(ctx context.Context, cutoff time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, "DELETE FROM deliveries WHERE received_at < $1", cutoff)
	return int(tag.RowsAffected()), err
}

// DeliveryRecorded reports whether delivery was recorded.
func (db *DB) DeliveryRecorded(ctx context.Context, delivery string) (bool, error) {
	var found bool
	err := db.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1)", delivery).Scan(&found)
	return found, err
}
