namespace pvetotp {}
