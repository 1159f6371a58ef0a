package templates

import (
	"strconv"
	"unicode"
)

// ordinal writes n as "1st", "2nd", "3rd", "4th", "11th", "22nd"….
func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

// money shows an amount with its currency, the currency kept to at most 8
// letters and currency signs so it cannot carry markup.
func money(currency string, amount float64) string {
	var c []rune
	for _, r := range currency {
		if len(c) < 8 && (unicode.IsLetter(r) || unicode.Is(unicode.Sc, r)) {
			c = append(c, r)
		}
	}
	if len(c) > 1 && unicode.IsLetter(c[0]) {
		return strconv.FormatFloat(amount, 'f', 2, 64) + " " + string(c)
	}
	return string(c) + strconv.FormatFloat(amount, 'f', 2, 64)
}
