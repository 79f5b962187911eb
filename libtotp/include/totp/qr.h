// qr.h: QR rendering of an otpauth URI through libqrencode (level M, 8-bit mode).
#pragma once

#include <string>

#include "totp/result.h"
#include "totp/secret_bytes.h"

namespace totp {

enum class qr_style { none, ansi, utf8 };

// A text block ready to print: UTF-8 half blocks (two modules per line, 1-line border) or
// ANSI reverse-video blocks (each module two spaces wide, 2-module quiet zone). The text
// draws the secret, hence secret_bytes. qr_style::none gives an empty block.
result<secret_bytes> render_qr_text(const secret_bytes& uri, qr_style style);

// Writes a PNG image (black on white, 4-module quiet zone, `scale` pixels per module) of the
// QR code to `path`, created with mode 0600 and O_EXCL|O_NOFOLLOW (refuses to overwrite).
status write_qr_png(const secret_bytes& uri, const std::string& path, int scale = 8);

}  // namespace totp
