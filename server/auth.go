package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	preview "github.com/previewd/previewd"
)

// requireAdmin lets a request through only with the admin bearer token.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return s.requireAdminToken(next, false)
}

// requireAdminOrBasic is requireAdmin that also takes the admin token as the
// password of HTTP Basic authentication, so a browser can open the dashboard.
func (s *Server) requireAdminOrBasic(next echo.HandlerFunc) echo.HandlerFunc {
	return s.requireAdminToken(next, true)
}

func (s *Server) requireAdminToken(next echo.HandlerFunc, basic bool) echo.HandlerFunc {
	guarded := s.requireToken(next, s.token, basic)
	return func(c echo.Context) error {
		if s.cfg.AdminToken == "" {
			return preview.Errorf(preview.EUNAUTHORIZED, "the admin API is disabled: set PREVIEWD_ADMIN_TOKEN")
		}
		return guarded(c)
	}
}

// requireToken lets a request through only with the token whose SHA-256
// is want: as a bearer token, or with basic as the password of HTTP Basic
// authentication.
func (s *Server) requireToken(next echo.HandlerFunc, want [32]byte, basic bool) echo.HandlerFunc {
	challenge := `Bearer realm="previewd"`
	if basic {
		challenge = `Basic realm="previewd"`
	}
	return func(c echo.Context) error {
		presented, ok := credential(c.Request(), basic)
		if !ok {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
			return preview.Errorf(preview.EUNAUTHORIZED, "missing or wrong bearer token")
		}
		if err := s.checkCredential(c, presented, want); err != nil {
			if preview.ErrorCode(err) == preview.EUNAUTHORIZED {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
			}
			return err
		}
		return next(c)
	}
}

// credential is the secret r presents: its bearer token or, with basic,
// the password of its HTTP Basic credentials. ok is false when it presents
// neither.
func credential(r *http.Request, basic bool) (secret string, ok bool) {
	if basic {
		if _, password, ok := r.BasicAuth(); ok {
			return password, true
		}
	}
	scheme, token, ok := strings.Cut(r.Header.Get(echo.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return token, true
}

// checkCredential compares a credential c presented with want (a SHA-256),
// in constant time. Every credential spends one of its client's tries,
// given back when it is right (see credentialLimiter): a wrong one is an
// EUNAUTHORIZED error, and one from a client without tries left is
// answered 429 before it is compared.
func (s *Server) checkCredential(c echo.Context, presented string, want [32]byte) error {
	giveBack, err := s.spendTry(c)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(presented))
	if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
		return preview.Errorf(preview.EUNAUTHORIZED, "missing or wrong bearer token")
	}
	giveBack()
	return nil
}

// spendTry spends one of the request's client's tries at a credential and
// returns the function that gives it back, or answers 429 with
// Retry-After when the client has none left.
func (s *Server) spendTry(c echo.Context) (giveBack func(), err error) {
	giveBack, wait := s.credentials.try(clientOf(c.Request()))
	if giveBack == nil {
		c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		return nil, echo.NewHTTPError(http.StatusTooManyRequests, "too many wrong credentials from this address: wait a minute")
	}
	return giveBack, nil
}
