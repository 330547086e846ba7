/*
 * On-screen keyboard with Vietnamese letters and tone marks, for a kiosk without a physical keyboard.
 *
 * Letters ă â đ ê ô ơ ư have their own keys; a tone key (sắc, huyền, hỏi, ngã, nặng) puts its mark on the
 * right vowel of the word just typed, following the usual spelling rules (a vowel with a hat, breve or
 * horn takes it; otherwise the middle of three vowels, the second of two before a final consonant, the
 * first of two at the end of a word: "hòa", "của", "toán", "người"). Tapping the same tone again takes it
 * off. "qu" and "gi" count as consonants ("quá", "giữ").
 */
"use strict";

(function () {
  const TONE_MARKS = {
    sac: "\u0301",
    huyen: "\u0300",
    hoi: "\u0309",
    nga: "\u0303",
    nang: "\u0323",
  };
  const TONE_SET = new Set(Object.values(TONE_MARKS));
  // Hat (circumflex), breve and horn: they make a vowel the tone's home.
  const SHAPE_MARKS = new Set(["\u0302", "\u0306", "\u031B"]);
  const VOWELS = new Set(["a", "e", "i", "o", "u", "y"]);

  /** Split a decomposed word into letters: a base character and its shape marks; tones are taken out. */
  function letters(word) {
    const out = [];
    let tone = null;
    for (const ch of word) {
      if (TONE_SET.has(ch)) {
        tone = ch;
      } else if (/\p{M}/u.test(ch) && out.length) {
        out[out.length - 1].marks += ch;
      } else {
        out.push({ base: ch, marks: "" });
      }
    }
    return { list: out, tone };
  }

  function isVowel(letter) {
    return VOWELS.has(letter.base.toLowerCase());
  }

  /** Index of the letter of ``list`` that carries the tone, or -1 when the word has no vowel. */
  function toneHome(list) {
    let start = list.findIndex(isVowel);
    if (start < 0) return -1;
    const first = list[0].base.toLowerCase();
    const second = list.length > 1 ? list[1].base.toLowerCase() : "";
    // "qu" and "gi" (before another vowel) are consonants: "quả", "giữa".
    if (start === 1 && ((first === "q" && second === "u") || (first === "g" && second === "i"))) {
      if (list.length > 2 && isVowel(list[2])) start = 2;
    }
    let end = start;
    while (end + 1 < list.length && isVowel(list[end + 1])) end += 1;
    const nucleus = [];
    for (let i = start; i <= end; i += 1) nucleus.push(i);
    const shaped = nucleus.filter((i) => [...list[i].marks].some((m) => SHAPE_MARKS.has(m)));
    if (shaped.length) return shaped[shaped.length - 1];
    if (nucleus.length === 1) return nucleus[0];
    if (nucleus.length >= 3) return nucleus[1];
    const hasFinal = end + 1 < list.length;
    return hasFinal ? nucleus[1] : nucleus[0];
  }

  /** ``text`` with ``tone`` (a key of TONE_MARKS) put on its last word; unchanged when it has no vowel. */
  function applyTone(text, tone) {
    const mark = TONE_MARKS[tone];
    const decomposed = text.normalize("NFD");
    const match = decomposed.match(/[\p{L}\p{M}]+$/u);
    if (!match || !mark) return text;
    const { list, tone: previous } = letters(match[0]);
    const home = toneHome(list);
    if (home < 0) return text;
    if (previous !== mark) list[home].marks += mark;
    const word = list.map((l) => l.base + l.marks).join("");
    return (decomposed.slice(0, match.index) + word).normalize("NFC");
  }

  const LAYOUT = [
    ["q", "w", "e", "r", "t", "y", "u", "i", "o", "p"],
    ["a", "s", "d", "f", "g", "h", "j", "k", "l", "đ"],
    ["{shift}", "z", "x", "c", "v", "b", "n", "m", "{back}"],
    ["ă", "â", "ê", "ô", "ơ", "ư", "{sac}", "{huyen}", "{hoi}", "{nga}", "{nang}"],
    [",", ".", "{space}", "?"],
  ];
  const TONE_KEYS = {
    sac: { face: "á", vi: "sắc", en: "acute" },
    huyen: { face: "à", vi: "huyền", en: "grave" },
    hoi: { face: "ả", vi: "hỏi", en: "hook" },
    nga: { face: "ã", vi: "ngã", en: "tilde" },
    nang: { face: "ạ", vi: "nặng", en: "dot" },
  };
  const WORDS = {
    vi: { shift: "Chữ hoa", back: "Xóa", space: "Dấu cách" },
    en: { shift: "Capital", back: "Delete", space: "Space" },
  };

  /**
   * Build the keyboard in ``container``; keys edit ``field`` (a textarea) at its end.
   * Returns {setLanguage(lang)}.
   */
  function mount(container, field, onChange) {
    let shift = false;
    let lang = "vi";
    const keys = [];

    function changed() {
      field.scrollTop = field.scrollHeight;
      onChange();
    }

    function press(key) {
      const max = field.maxLength > 0 ? field.maxLength : Infinity;
      if (key === "{back}") {
        field.value = Array.from(field.value).slice(0, -1).join("");
      } else if (key === "{shift}") {
        shift = !shift;
        render();
        return;
      } else if (key === "{space}") {
        if (field.value && !field.value.endsWith(" ") && field.value.length < max) field.value += " ";
      } else if (key.startsWith("{")) {
        field.value = applyTone(field.value, key.slice(1, -1));
      } else if (field.value.length < max) {
        field.value += shift ? key.toUpperCase() : key;
        if (shift) {
          shift = false;
          render();
        }
      }
      changed();
    }

    function render() {
      for (const { button, key } of keys) {
        const tone = TONE_KEYS[key.slice(1, -1)];
        if (tone) {
          button.querySelector(".face").textContent = tone.face;
          button.querySelector(".caption").textContent = tone[lang];
          button.setAttribute("aria-label", `${tone.vi} (${tone.face})`);
        } else if (key.startsWith("{")) {
          button.textContent = WORDS[lang][key.slice(1, -1)];
          if (key === "{shift}") button.classList.toggle("on", shift);
        } else {
          button.textContent = shift ? key.toUpperCase() : key;
        }
      }
    }

    for (const row of LAYOUT) {
      const line = document.createElement("div");
      line.className = "row";
      for (const key of row) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "key";
        button.dataset.key = key;
        const name = key.slice(1, -1);
        if (TONE_KEYS[name]) {
          button.classList.add("tone");
          const face = document.createElement("span");
          face.className = "face";
          const caption = document.createElement("span");
          caption.className = "caption";
          button.append(face, caption);
        } else if (key.startsWith("{")) {
          button.classList.add("wide", name);
        }
        // pointerdown, not click: an old finger that slides a little still types the key.
        button.addEventListener("pointerdown", (event) => {
          event.preventDefault();
          press(key);
        });
        line.append(button);
        keys.push({ button, key });
      }
      container.append(line);
    }
    render();
    return {
      setLanguage(next) {
        lang = next;
        render();
      },
      reset() {
        shift = false;
        render();
      },
    };
  }

  window.VietKeyboard = { applyTone, mount };
})();
