// Polls the QR request every second; an approval continues the login, an expiry or a refusal says so.
(function () {
  "use strict";
  var box = document.querySelector(".qr[data-poll]");
  if (!box) { return; }
  var statusLine = document.getElementById("qr-status");
  var frame = document.getElementById("qr-frame");
  var finish = document.getElementById("qr-finish");
  var done = false;
  var messages = {
    expired: "Mã QR đã hết hạn. Bấm “Lấy mã mới” để đăng nhập bằng QR. (The QR code has expired: press “New code”.)",
    rejected: "Bạn đã từ chối đăng nhập trên điện thoại. Bấm “Lấy mã mới” để thử lại. (You refused on the phone.)",
    approved: "Đã xác nhận trên điện thoại, đang đăng nhập… (Approved on the phone, signing in…)"
  };
  function stop(kind) {
    done = true;
    statusLine.textContent = messages[kind];
    statusLine.className = "qr-status " + kind;
    if (kind !== "approved") { frame.classList.add("spent"); }
  }
  function poll() {
    if (done) { return; }
    fetch(box.getAttribute("data-poll"), { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (answer.status === "approved") { stop("approved"); finish.submit(); }
        else if (answer.status === "expired" || answer.status === "rejected") { stop(answer.status); }
        else { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 1000);
})();
