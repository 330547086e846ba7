/*
 * The kiosk page: rate with one tap, add a comment if you like, see thanks, and the page starts over.
 * Vietnamese by default, English on a tap. Nothing is loaded from outside this Pi.
 */
"use strict";

(function () {
  const TEXT = {
    vi: {
      loading: "Đang khởi động…",
      title: "Ông/Bà có hài lòng với sự phục vụ hôm nay không?",
      hint: "Xin chạm vào một ô bên dưới để đánh giá",
      anonymous: "Đánh giá không ghi họ tên người đánh giá.",
      lang: "English",
      rated: "Cảm ơn Ông/Bà đã đánh giá!",
      alreadyRated: "Lượt phục vụ này đã được đánh giá. Cảm ơn Ông/Bà!",
      chosen: "Ông/Bà đã chọn",
      prompt: "Ông/Bà có muốn góp ý thêm không? (không bắt buộc)",
      phrases: "Chạm để thêm câu có sẵn:",
      placeholder: "Góp ý của Ông/Bà (xin đừng ghi họ tên, số điện thoại)",
      consent: "Tôi đồng ý gửi nguyên văn góp ý này",
      consentNote: "Nếu không đánh dấu: chỉ gửi đi nhận xét chung (tốt, bình thường hay chưa tốt), không gửi nội dung.",
      send: "Gửi góp ý",
      sending: "Đang gửi…",
      skip: "Bỏ qua",
      thanksTitle: "Xin cảm ơn Ông/Bà!",
      thanksBody: "Ý kiến của Ông/Bà giúp chúng tôi phục vụ tốt hơn.",
      countdown: (n) => `Màn hình sẽ trở về sau ${n} giây`,
      rateError: "Xin lỗi, máy chưa ghi nhận được. Xin Ông/Bà chạm lại.",
      commentError: "Xin lỗi, góp ý chưa gửi được; đánh giá của Ông/Bà đã được ghi nhận.",
      good: [
        "Cán bộ nhiệt tình, chu đáo",
        "Hướng dẫn rõ ràng, dễ hiểu",
        "Giải quyết nhanh chóng",
        "Nơi chờ sạch sẽ, thoáng mát",
      ],
      improve: [
        "Phải chờ quá lâu",
        "Hướng dẫn chưa rõ ràng",
        "Thái độ phục vụ chưa tốt",
        "Thủ tục còn rườm rà",
      ],
    },
    en: {
      loading: "Starting…",
      title: "Are you satisfied with the service today?",
      hint: "Please tap one of the boxes below",
      anonymous: "Your rating does not record your name.",
      lang: "Tiếng Việt",
      rated: "Thank you for your rating!",
      alreadyRated: "This service has already been rated. Thank you!",
      chosen: "You chose",
      prompt: "Would you like to add a comment? (optional)",
      phrases: "Tap to add a phrase:",
      placeholder: "Your comment (please no names or phone numbers)",
      consent: "I agree to send this text as written",
      consentNote: "If unticked: only the overall tone (good, neutral or poor) is sent, not the text.",
      send: "Send comment",
      sending: "Sending…",
      skip: "Skip",
      thanksTitle: "Thank you!",
      thanksBody: "Your opinion helps us serve everyone better.",
      countdown: (n) => `This screen starts over in ${n} seconds`,
      rateError: "Sorry, that did not go through. Please tap again.",
      commentError: "Sorry, the comment could not be sent; your rating has been recorded.",
      good: ["Friendly, attentive staff", "Clear, easy guidance", "Dealt with quickly", "Clean, airy waiting room"],
      improve: ["The wait was too long", "The guidance was unclear", "The staff were not courteous", "Too much paperwork"],
    },
  };

  // Mouth of each face, best first: [start y, control y] of a curve from x 30 to x 70.
  const MOUTHS = [
    [60, 84],
    [62, 74],
    [66, 66],
    [70, 58],
    [72, 52],
  ];

  const $ = (id) => document.getElementById(id);
  const state = {
    config: null,
    lang: "vi",
    screen: "loading",
    level: null,
    rank: 0,
    ratingId: null,
    counted: true,
    busy: false,
    timer: null,
    keyboard: null,
  };

  function face(rank) {
    const [y, c] = MOUTHS[rank];
    return (
      '<svg viewBox="0 0 100 100" aria-hidden="true" focusable="false">' +
      '<circle cx="50" cy="50" r="44" fill="none" stroke="currentColor" stroke-width="7"/>' +
      '<circle cx="35" cy="38" r="6" fill="currentColor"/><circle cx="65" cy="38" r="6" fill="currentColor"/>' +
      `<path d="M30 ${y} Q50 ${c} 70 ${y}" fill="none" stroke="currentColor" stroke-width="7" stroke-linecap="round"/>` +
      "</svg>"
    );
  }

  /** Colour and face of a level: ranks 0 (best) to 4 (worst), spread over the scale's length. */
  function rankOf(index, count) {
    if (count === 3) return [0, 2, 3][index];
    if (count === 4) return [0, 1, 2, 3][index];
    return index;
  }

  function t(key) {
    return TEXT[state.lang][key];
  }

  function show(name) {
    for (const el of document.querySelectorAll(".screen")) el.classList.toggle("active", el.id === `screen-${name}`);
    state.screen = name;
    $("lang").hidden = name !== "rate" && name !== "comment";
  }

  function render() {
    document.documentElement.lang = state.lang;
    for (const el of document.querySelectorAll("[data-text]")) el.textContent = t(el.dataset.text);
    $("lang").textContent = t("lang");
    $("lang").lang = state.lang === "vi" ? "en" : "vi";
    $("comment").placeholder = t("placeholder");
    if (state.config) {
      for (const button of document.querySelectorAll(".rating")) {
        const level = state.config.levels[Number(button.dataset.index)];
        button.querySelector(".label").textContent = level[state.lang];
      }
    }
    if (state.level) {
      $("chosen-face").setAttribute("aria-label", `${t("chosen")}: ${state.level[state.lang]}`);
      $("comment-title").textContent = state.counted ? t("rated") : t("alreadyRated");
      renderPhrases();
    }
    if (state.keyboard) state.keyboard.setLanguage(state.lang);
  }

  function renderPhrases() {
    const box = $("phrases");
    box.replaceChildren();
    for (const phrase of t(state.level.satisfied ? "good" : "improve")) {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "phrase";
      chip.textContent = phrase;
      chip.addEventListener("click", () => addPhrase(phrase, chip));
      box.append(chip);
    }
  }

  function addPhrase(phrase, chip) {
    const field = $("comment");
    const now = field.value.trimEnd();
    const joined = now ? `${now}${/[.,!?]$/.test(now) ? "" : ","} ${phrase}` : phrase;
    field.value = joined.slice(0, field.maxLength);
    chip.classList.add("used");
    touched();
  }

  function buildRatings() {
    const box = $("ratings");
    box.replaceChildren();
    const levels = state.config.levels;
    levels.forEach((level, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = `rating rank-${rankOf(index, levels.length)}`;
      button.dataset.index = String(index);
      button.dataset.score = String(level.score);
      button.innerHTML = `${face(rankOf(index, levels.length))}<span class="label"></span>`;
      button.addEventListener("click", () => rate(level, button));
      box.append(button);
    });
    box.classList.add(`count-${levels.length}`);
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  }

  async function rate(level, button) {
    if (state.busy) return; // a second tap while the first is on its way is not a second rating
    state.busy = true;
    button.classList.add("pressed");
    $("rate-error").hidden = true;
    try {
      const answer = await post("/kiosk/api/rating", { score: level.score });
      state.level = level;
      state.rank = rankOf(state.config.levels.indexOf(level), state.config.levels.length);
      state.ratingId = answer.id;
      state.counted = answer.counted || !answer.flags.includes("repeat");
      openComment();
    } catch (error) {
      $("rate-error").textContent = t("rateError");
      $("rate-error").hidden = false;
    } finally {
      state.busy = false;
      button.classList.remove("pressed");
    }
  }

  function openComment() {
    $("chosen-face").className = `chosen-face rank-${state.rank}`;
    $("chosen-face").innerHTML = face(state.rank);
    $("comment").value = "";
    $("consent").checked = false;
    $("send").disabled = false;
    state.keyboard.reset();
    show("comment");
    render();
    touched();
  }

  /** The citizen did something on the comment screen: it stays up for another idle period. */
  function touched() {
    clearTimeout(state.timer);
    state.timer = setTimeout(startOver, state.config.idle_s * 1000);
  }

  async function send() {
    if (state.busy) return;
    const text = $("comment").value.trim();
    if (!text) {
      thanks(false);
      return;
    }
    state.busy = true;
    $("send").disabled = true;
    $("send").textContent = t("sending");
    let failed = false;
    try {
      await post("/kiosk/api/comment", { text, consent: $("consent").checked, rating_id: state.ratingId });
    } catch (error) {
      failed = true;
    } finally {
      state.busy = false;
      $("send").textContent = t("send");
    }
    thanks(failed);
  }

  function thanks(failed) {
    clearTimeout(state.timer);
    $("comment").value = ""; // the text does not stay on screen for the next person
    $("comment-error").textContent = t("commentError");
    $("comment-error").hidden = !failed;
    show("thanks");
    let left = Math.round(state.config.thanks_s);
    const tick = () => {
      $("countdown").textContent = TEXT[state.lang].countdown(left);
      left -= 1;
      if (left < 0) {
        startOver();
      } else {
        state.timer = setTimeout(tick, 1000);
      }
    };
    tick();
  }

  function startOver() {
    clearTimeout(state.timer);
    state.level = null;
    state.ratingId = null;
    state.counted = true;
    state.lang = state.config.language;
    $("comment").value = "";
    $("consent").checked = false;
    show("rate");
    render();
  }

  async function start() {
    state.keyboard = window.VietKeyboard.mount($("keyboard"), $("comment"), touched);
    $("thanks-face").innerHTML = face(0);
    $("lang").addEventListener("click", () => {
      state.lang = state.lang === "vi" ? "en" : "vi";
      render();
      if (state.screen === "comment") touched();
    });
    $("send").addEventListener("click", send);
    $("skip").addEventListener("click", () => thanks(false));
    $("consent").addEventListener("change", touched);
    $("comment").addEventListener("input", touched);
    $("screen-thanks").addEventListener("click", startOver);
    render();
    for (;;) {
      try {
        const response = await fetch("/kiosk/api/config");
        if (response.ok) {
          state.config = await response.json();
          break;
        }
      } catch (error) {
        // the agent is still starting: try again shortly
      }
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
    state.lang = state.config.language;
    buildRatings();
    startOver();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
