#include "subject_trie.hpp"

#include <algorithm>

namespace courier::detail {

namespace {

std::vector<std::string_view> tokens_of(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
}

bool remove_id(std::vector<std::uint64_t>& v, std::uint64_t id) {
  auto it = std::find(v.begin(), v.end(), id);
  if (it == v.end()) {
    return false;
  }
  *it = v.back();
  v.pop_back();
  return true;
}

}  // namespace

std::size_t subject_trie::split(
    std::string_view s, std::string_view (&inline_tokens)[max_inline_tokens],
    std::vector<std::string_view>& more) {
  std::size_t n = 0;
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = s.find('.', start);
    std::string_view t = dot == std::string_view::npos
                             ? s.substr(start)
                             : s.substr(start, dot - start);
    if (n < max_inline_tokens) {
      inline_tokens[n] = t;
    } else {
      if (more.empty()) {
        more.assign(inline_tokens, inline_tokens + max_inline_tokens);
      }
      more.push_back(t);
    }
    ++n;
    if (dot == std::string_view::npos) {
      return n;
    }
    start = dot + 1;
  }
}

void subject_trie::insert(std::string_view pattern, std::uint64_t id) {
  node* n = &root_;
  std::vector<std::string_view> tokens = tokens_of(pattern);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string_view t = tokens[i];
    if (t == ">") {
      n->tail.push_back(id);
      ++size_;
      return;
    }
    if (t == "*") {
      if (!n->star) {
        n->star = std::make_unique<node>();
      }
      n = n->star.get();
      continue;
    }
    auto it = n->children.find(t);
    if (it == n->children.end()) {
      it = n->children.emplace(std::string(t), std::make_unique<node>()).first;
    }
    n = it->second.get();
  }
  n->here.push_back(id);
  ++size_;
}

bool subject_trie::erase_at(node& n,
                            const std::vector<std::string_view>& tokens,
                            std::size_t i, std::uint64_t id) {
  if (i == tokens.size()) {
    return remove_id(n.here, id);
  }
  std::string_view t = tokens[i];
  if (t == ">") {
    return remove_id(n.tail, id);
  }
  if (t == "*") {
    if (!n.star || !erase_at(*n.star, tokens, i + 1, id)) {
      return false;
    }
    if (n.star->empty()) {
      n.star.reset();
    }
    return true;
  }
  auto it = n.children.find(t);
  if (it == n.children.end() || !erase_at(*it->second, tokens, i + 1, id)) {
    return false;
  }
  if (it->second->empty()) {
    n.children.erase(it);
  }
  return true;
}

bool subject_trie::erase(std::string_view pattern, std::uint64_t id) {
  if (!erase_at(root_, tokens_of(pattern), 0, id)) {
    return false;
  }
  --size_;
  return true;
}

}  // namespace courier::detail
