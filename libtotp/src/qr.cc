// qr.cc: QR rendering through libqrencode, as terminal text or as a PNG file
// (contract in totp/qr.h).
//
// The PNG encoder is our own ~100 lines: 1-bit greyscale, zlib stream made of *stored*
// (uncompressed) deflate blocks, CRC-32 and Adler-32 computed here. A QR image is a few tens
// of kilobytes uncompressed at 1 bit per pixel, so compression buys nothing worth a new
// dependency in a library that PAM loads into sshd.
#include "totp/qr.h"

#include <fcntl.h>
#include <qrencode.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace totp {
namespace {

struct qrcode_deleter {
  void operator()(QRcode* code) const noexcept { QRcode_free(code); }
};
using qrcode_ptr = std::unique_ptr<QRcode, qrcode_deleter>;

// A square module matrix; dark(x, y) is false outside the symbol, which gives the quiet zone
// for free to every renderer below.
class module_matrix {
 public:
  explicit module_matrix(qrcode_ptr code) : code_(std::move(code)) {}
  module_matrix(module_matrix&&) noexcept = default;
  module_matrix& operator=(module_matrix&&) noexcept = default;
  int width() const noexcept { return code_->width; }
  bool dark(int x, int y) const noexcept {
    if (x < 0 || y < 0 || x >= code_->width || y >= code_->width)
      return false;
    return (code_->data[y * code_->width + x] & 1) != 0;
  }
  // The matrix draws the secret; wipe it before libqrencode frees it.
  ~module_matrix() {
    if (code_) {
      std::memset(code_->data, 0, static_cast<std::size_t>(code_->width) * code_->width);
    }
  }

 private:
  qrcode_ptr code_;
};

result<module_matrix> encode(const secret_bytes& uri) {
  if (uri.empty())
    return make_error(error_code::invalid_argument, "QR: empty text");
  // libqrencode wants a NUL-terminated string; keep the copy in wiped memory.
  secret_bytes text = uri.clone();
  text.push_back(0);
  errno = 0;
  QRcode* code =
      QRcode_encodeString8bit(reinterpret_cast<const char*>(text.data()), 0, QR_ECLEVEL_M);
  if (code == nullptr) {
    const int saved = errno;
    if (saved == ERANGE) {
      return make_error(error_code::too_large, "QR: text too long for a QR code", saved);
    }
    return make_error(error_code::qr, "QR: libqrencode failed to encode the text", saved);
  }
  return module_matrix(qrcode_ptr(code));
}

// UTF-8: two module rows per text line with the half blocks; dark modules are drawn as ink
// (as the reference does, and as the guides show when they paste the block into a document).
void render_utf8(const module_matrix& m, secret_bytes& out) {
  constexpr int kBorder = 2;  // modules: one text line above and below, two columns aside
  const int first = -kBorder;
  const int last = m.width() + kBorder;  // exclusive
  for (int y = first; y < last; y += 2) {
    for (int x = first; x < last; ++x) {
      const bool top = m.dark(x, y);
      const bool bottom = (y + 1 < last) && m.dark(x, y + 1);
      if (top && bottom) {
        out.append("\u2588");  // full block
      } else if (top) {
        out.append("\u2580");  // upper half
      } else if (bottom) {
        out.append("\u2584");  // lower half
      } else {
        out.push_back(' ');
      }
    }
    out.push_back('\n');
  }
}

// ANSI: each module two cells wide; light modules in reverse video so they take the
// terminal's foreground colour (light on the usual dark terminal), 2-module quiet zone.
void render_ansi(const module_matrix& m, secret_bytes& out) {
  constexpr int kQuiet = 2;
  const int first = -kQuiet;
  const int last = m.width() + kQuiet;
  for (int y = first; y < last; ++y) {
    bool reversed = false;
    for (int x = first; x < last; ++x) {
      const bool light = !m.dark(x, y);
      if (light != reversed) {
        out.append(light ? "\x1b[7m" : "\x1b[27m");
        reversed = light;
      }
      out.append("  ");
    }
    out.append("\x1b[0m\n");
  }
}

// --- PNG ---------------------------------------------------------------------------------

std::uint32_t crc32_update(std::uint32_t crc, const std::uint8_t* data, std::size_t size) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  for (std::size_t i = 0; i < size; ++i)
    crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put_chunk(std::vector<std::uint8_t>& out, const char type[4],
               const std::vector<std::uint8_t>& data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  const std::uint32_t crc =
      crc32_update(0xffffffffu, out.data() + type_at, 4 + data.size()) ^ 0xffffffffu;
  put_u32(out, crc);
}

// zlib stream (RFC 1950) around stored deflate blocks (RFC 1951 section 3.2.4).
std::vector<std::uint8_t> zlib_stored(const std::vector<std::uint8_t>& raw) {
  std::vector<std::uint8_t> z = {0x78, 0x01};
  std::size_t pos = 0;
  do {
    const std::size_t len = std::min<std::size_t>(raw.size() - pos, 65535);
    const bool final_block = pos + len == raw.size();
    z.push_back(final_block ? 1 : 0);  // BFINAL, BTYPE=00
    const auto len16 = static_cast<std::uint16_t>(len);
    const auto nlen16 = static_cast<std::uint16_t>(~len16);
    z.push_back(static_cast<std::uint8_t>(len16 & 0xff));
    z.push_back(static_cast<std::uint8_t>(len16 >> 8));
    z.push_back(static_cast<std::uint8_t>(nlen16 & 0xff));
    z.push_back(static_cast<std::uint8_t>(nlen16 >> 8));
    z.insert(z.end(), raw.begin() + static_cast<std::ptrdiff_t>(pos),
             raw.begin() + static_cast<std::ptrdiff_t>(pos + len));
    pos += len;
  } while (pos < raw.size());
  std::uint32_t a = 1, b = 0;  // Adler-32
  for (const std::uint8_t byte : raw) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  put_u32(z, (b << 16) | a);
  return z;
}

std::vector<std::uint8_t> encode_png(const module_matrix& m, int scale) {
  constexpr int kQuiet = 4;  // the quiet zone the QR standard asks for
  const int modules = m.width() + 2 * kQuiet;
  const auto pixels = static_cast<std::uint32_t>(modules * scale);
  const std::size_t row_bytes = 1 + (pixels + 7) / 8;  // filter byte + 1 bit per pixel

  std::vector<std::uint8_t> raw(row_bytes * pixels, 0);
  for (std::uint32_t py = 0; py < pixels; ++py) {
    std::uint8_t* row = raw.data() + py * row_bytes;
    row[0] = 0;  // filter: none
    const int my = static_cast<int>(py) / scale - kQuiet;
    for (std::uint32_t px = 0; px < pixels; ++px) {
      const int mx = static_cast<int>(px) / scale - kQuiet;
      if (!m.dark(mx, my))
        row[1 + px / 8] |= static_cast<std::uint8_t>(0x80u >> (px % 8));
    }
  }

  std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<std::uint8_t> ihdr;
  put_u32(ihdr, pixels);
  put_u32(ihdr, pixels);
  ihdr.insert(ihdr.end(), {1, 0, 0, 0, 0});  // depth 1, greyscale, deflate, no filter/interlace
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", zlib_stored(raw));
  put_chunk(png, "IEND", {});
  // The pixels draw the secret: wipe our copy.
  std::memset(raw.data(), 0, raw.size());
  return png;
}

}  // namespace

result<secret_bytes> render_qr_text(const secret_bytes& uri, qr_style style) {
  if (style == qr_style::none)
    return secret_bytes();
  auto matrix = encode(uri);
  if (!matrix)
    return std::move(matrix).error();
  secret_bytes out;
  if (style == qr_style::utf8) {
    render_utf8(*matrix, out);
  } else {
    render_ansi(*matrix, out);
  }
  return out;
}

status write_qr_png(const secret_bytes& uri, const std::string& path, int scale) {
  if (scale < 1 || scale > 64) {
    return make_error(error_code::invalid_argument, "QR PNG: scale must be 1..64");
  }
  auto matrix = encode(uri);
  if (!matrix)
    return std::move(matrix).error();
  std::vector<std::uint8_t> png = encode_png(*matrix, scale);

  // O_EXCL|O_NOFOLLOW: never overwrite or follow a planted link; 0600 because the image
  // is as secret as the key.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int saved = errno;
    return make_error(saved == EEXIST ? error_code::exists : error_code::io,
                      "open(\"" + path + "\"): " + std::strerror(saved), saved);
  }
  std::size_t done = 0;
  int saved = 0;
  const char* step = "write";
  while (done < png.size()) {
    const ssize_t n = ::write(fd, png.data() + done, png.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      saved = errno;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (saved == 0 && ::fsync(fd) != 0) {
    saved = errno;
    step = "fsync";
  }
  if (::close(fd) != 0 && saved == 0) {
    saved = errno;
    step = "close";
  }
  std::memset(png.data(), 0, png.size());
  if (saved != 0) {
    // We created the file with O_EXCL, so it is ours to remove: no half image stays behind.
    ::unlink(path.c_str());
    return make_error(error_code::io,
                      std::string(step) + "(\"" + path + "\"): " + std::strerror(saved), saved);
  }
  return {};
}

}  // namespace totp
