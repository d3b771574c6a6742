// Random texts for the comparison tests: runs of characters drawn from
// classes that stress tokenizers (ASCII words, digits, punctuation, runs of
// spaces, newlines and tabs, CJK, emoji incl. ZWJ sequences, accented and
// combining letters, Cyrillic, apostrophe contractions, and edge cases: long
// space runs, NBSP/ideographic/zero-width spaces, U+0085, BOM, long s and
// Kelvin sign (case folding), dotted I, Arabic-Indic and Roman numerals,
// superscripts, text that looks like special tokens). Always valid UTF-8.
#pragma once

#include <random>
#include <string>

#include "tokenizer/utf8.h"

namespace tokamak::test {

class RandomText {
 public:
  explicit RandomText(uint32_t seed) : rng_(seed) {}

  std::string next(int max_runs = 12) {
    std::string out;
    const int num_runs = pick(1, max_runs);
    for (int i = 0; i < num_runs; ++i) append_run(out);
    return out;
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  void cp(std::string& out, char32_t c) { utf8::append(out, c); }

  void append_run(std::string& out) {
    const int length = pick(1, 8);
    switch (pick(0, 12)) {
      case 0:
      case 1:  // lower/upper ASCII word
        for (int i = 0; i < length; ++i)
          out.push_back(static_cast<char>(pick(0, 3) ? pick('a', 'z') : pick('A', 'Z')));
        break;
      case 2:  // digits
        for (int i = 0; i < length; ++i) out.push_back(static_cast<char>(pick('0', '9')));
        break;
      case 3: {  // ASCII punctuation and symbols
        static const std::string kPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
        for (int i = 0; i < length; ++i) out.push_back(kPunct[pick(0, kPunct.size() - 1)]);
        break;
      }
      case 4:
      case 5: {  // whitespace runs
        static const char kSpace[] = {' ', ' ', ' ', '\n', '\t', '\r'};
        for (int i = 0; i < pick(1, 4); ++i) out.push_back(kSpace[pick(0, 5)]);
        break;
      }
      case 6:  // CJK unified ideographs
        for (int i = 0; i < length; ++i) cp(out, pick(0x4E00, 0x9FA5));
        break;
      case 7: {  // emoji, sometimes joined with ZWJ or a variation selector
        for (int i = 0; i < pick(1, 3); ++i) {
          cp(out, pick(0, 1) ? pick(0x1F600, 0x1F64F) : pick(0x1F300, 0x1F5FF));
          if (pick(0, 3) == 0) cp(out, 0x200D);
          if (pick(0, 3) == 0) cp(out, 0xFE0F);
        }
        break;
      }
      case 8:  // Latin-1 letters and combining marks
        for (int i = 0; i < length; ++i) {
          cp(out, pick(0xC0, 0xFF));
          if (pick(0, 4) == 0) cp(out, pick(0x300, 0x36F));
        }
        break;
      case 9:  // Cyrillic
        for (int i = 0; i < length; ++i) cp(out, pick(0x430, 0x44F));
        break;
      case 10: {  // contractions (case varies)
        static const char* kContractions[] = {"'s",  "'t", "'re", "'ve", "'m",
                                              "'ll", "'d", "'S",  "'LL", "'Ve"};
        out += kContractions[pick(0, 9)];
        break;
      }
      case 11: {  // edge cases: odd spaces, case folding, special-token look-alikes
        static const char* kHard[] = {
            "\xC5\xBF",     "'\xC5\xBF", "\xE2\x84\xAA", "\xC4\xB0", "<s>",          "</s>",
            "<0x41>",       "<unk>",     "\r\n",         "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\xA8",
            "\xE2\x80\x8B", "\xC2\x85",  "\xEF\xBB\xBF", "\xD9\xA3", "\xE2\x85\xA7", "\xC2\xB2"};
        out += kHard[pick(0, 17)];
        if (pick(0, 5) == 0) out.append(pick(9, 40), ' ');
        break;
      }
      default:  // a common English word with a leading space
        static const char* kWords[] = {" the",       " Hello", " world", " of",
                                       " tokenizer", " a",     " I",     "ing"};
        out += kWords[pick(0, 7)];
        break;
    }
  }

  std::mt19937 rng_;
};

}  // namespace tokamak::test
