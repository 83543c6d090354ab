import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "./i18n";
import { applyTheme, savedTheme } from "./lib/theme";
import App from "./App";
import "./styles.css";

applyTheme(savedTheme());

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
