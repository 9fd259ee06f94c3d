// A growable, reusable byte buffer: the one contiguous allocation a batch owns. It grows by
// doubling and is kept across reuse, so a warmed-up pipeline allocates nothing per record.
// Threading: owned by one thread at a time (whoever holds the batch).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

namespace edgepipe {

class byte_arena {
 public:
  byte_arena() = default;
  explicit byte_arena(std::size_t capacity) { reserve(capacity); }
  ~byte_arena() { std::free(data_); }
  byte_arena(const byte_arena&) = delete;
  byte_arena& operator=(const byte_arena&) = delete;
  byte_arena(byte_arena&& o) noexcept : data_(o.data_), size_(o.size_), capacity_(o.capacity_) {
    o.data_ = nullptr;
    o.size_ = o.capacity_ = 0;
  }

  void swap(byte_arena& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(capacity_, o.capacity_);
  }

  char* data() noexcept { return data_; }
  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  void clear() noexcept { size_ = 0; }
  /// Drops everything after `size` (used to roll back a partly written payload).
  void truncate(std::size_t size) noexcept {
    if (size < size_) size_ = size;
  }

  void reserve(std::size_t capacity) {
    if (capacity <= capacity_) return;
    void* p = std::realloc(data_, capacity);
    if (p == nullptr) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
    capacity_ = capacity;
  }

  /// Space for n more bytes; the caller writes them and then calls commit(n).
  char* prepare(std::size_t n) {
    if (size_ + n > capacity_) grow(size_ + n);
    return data_ + size_;
  }
  void commit(std::size_t n) noexcept { size_ += n; }

  void append(const void* p, std::size_t n) {
    // Nothing to copy: an empty arena has no buffer yet, and memcpy with a null pointer is
    // undefined even for 0 bytes (found by tests/fuzz/fuzz_transform with an empty payload).
    if (n == 0) return;
    std::memcpy(prepare(n), p, n);
    size_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void push_back(char c) {
    *prepare(1) = c;
    ++size_;
  }
  /// Releases memory above `keep` bytes so one huge batch does not pin memory forever.
  void shrink_to(std::size_t keep) {
    if (capacity_ <= keep) return;
    std::free(data_);
    data_ = nullptr;
    capacity_ = 0;
    size_ = 0;
    reserve(keep);
  }

  std::string_view view(std::size_t off, std::size_t len) const noexcept {
    return {data_ + off, len};
  }

 private:
  void grow(std::size_t need) {
    std::size_t cap = capacity_ ? capacity_ : 4096;
    while (cap < need) cap *= 2;
    reserve(cap);
  }

  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace edgepipe
