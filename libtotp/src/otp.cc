// Being written; replaced by the full implementation.
namespace totp {}
