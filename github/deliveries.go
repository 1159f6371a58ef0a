package github

import (
	"context"
	"fmt"
	"time"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// maxDeliveryPages bounds how many pages of 100 deliveries a listing reads.
const maxDeliveryPages = 20

// HookDeliveries lists the App's webhook deliveries made since since, newest
// first (GET /app/hook/deliveries with the App's JWT, every page until one
// older than since, at most 2,000 deliveries). It needs App mode: in token
// mode it returns an invalid error.
func (c *Client) HookDeliveries(ctx context.Context, since time.Time) ([]preview.HookDelivery, error) {
	if c.app == nil {
		return nil, preview.Errorf(preview.EINVALID, "webhook deliveries are listed in GitHub App mode only")
	}
	opts := &gh.ListCursorOptions{PerPage: 100}
	var out []preview.HookDelivery
	for range maxDeliveryPages {
		var (
			page []*gh.HookDelivery
			resp *gh.Response
		)
		err := c.app.jwt.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
			page, resp, err = api.Apps.ListHookDeliveries(ctx, opts)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list webhook deliveries: %w", classify(err))
		}
		for _, d := range page {
			at := d.GetDeliveredAt().Time
			if at.Before(since) {
				return out, nil
			}
			out = append(out, preview.HookDelivery{ID: d.GetID(), GUID: d.GetGUID(), Event: d.GetEvent(),
				StatusCode: d.GetStatusCode(), DeliveredAt: at, Redelivery: d.GetRedelivery()})
		}
		if resp.Cursor == "" {
			return out, nil
		}
		opts.Cursor = resp.Cursor
	}
	return out, nil
}

// Redeliver asks GitHub to deliver the App's webhook delivery id again
// (POST /app/hook/deliveries/{id}/attempts). A lost answer is not retried:
// the next listing shows whether the redelivery happened.
func (c *Client) Redeliver(ctx context.Context, id int64) error {
	if c.app == nil {
		return preview.Errorf(preview.EINVALID, "webhook deliveries are redelivered in GitHub App mode only")
	}
	err := c.app.jwt.do(ctx, create, func(ctx context.Context, api *gh.Client) error {
		_, _, err := api.Apps.RedeliverHookDelivery(ctx, id)
		if _, accepted := err.(*gh.AcceptedError); accepted {
			return nil // 202: the attempt is queued
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("redeliver webhook delivery %d: %w", id, classify(err))
	}
	return nil
}
