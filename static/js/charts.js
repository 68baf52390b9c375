// Draws each chart of the page from the JSON in its json_script element (`data-chart-source` names it), so the
// figures never pass through inline script. Also: editing a date in the range form switches it to custom dates.
(() => {
  const palette = ["#0b5cad", "#b35900", "#1a7f37", "#8250df", "#cf222e", "#1b7c83"];

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chartSource);
    if (!source || typeof Chart === "undefined") return;
    const spec = JSON.parse(source.textContent);
    const bars = spec.type === "bar";
    const datasets = spec.datasets.map((set, index) => {
      const colour = palette[index % palette.length];
      return {
        label: set.label,
        data: set.data,
        borderColor: colour,
        backgroundColor: bars ? colour : "transparent",
        borderWidth: 2,
        pointRadius: spec.labels.length > 45 ? 0 : 2,
        tension: 0.2,
        spanGaps: false,  // a period with no figure (null) is a gap, not a zero
      };
    });
    const y = spec.integers ? { ticks: { precision: 0 } } : {};
    if (spec.min !== null && spec.min !== undefined) y.suggestedMin = spec.min;
    if (spec.max !== null && spec.max !== undefined) y.suggestedMax = spec.max;
    if (spec.min === 0) y.beginAtZero = true;
    if (spec.unit) y.title = { display: true, text: spec.unit };
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y },
        plugins: { legend: { display: datasets.length > 1 } },
      },
    });
  }

  document.querySelectorAll("canvas[data-chart-source]").forEach(draw);

  document.querySelectorAll("form[data-range-form]").forEach((form) => {
    const preset = form.querySelector("select[name=range]");
    if (!preset) return;
    form.querySelectorAll("input[type=date]").forEach((input) => {
      input.addEventListener("change", () => { preset.value = "custom"; });
    });
  });
})();
